"""Build the lessons as HTML slide decks (reveal.js), one per notebook, into slides/.

    python scripts/slides.py [--explorers DIR] [notebooks/03_initialisation.ipynb ...]

Cells are placed on slides by their ``metadata.slideshow.slide_type`` (the same metadata that
jupyterlab-slideshow uses to present a lesson live in JupyterLab). Everything a deck loads comes
from the npm registry (``npm pack``) at build time and is kept in slides/, so the decks work
offline: reveal.js, require.js, jQuery and MathJax 2 (formulas). A widget cannot run without a
kernel: when the explorers were exported (``python -m trainlab.explorers export build/explorers``)
each explorer's slide shows its viewer (the same one the website embeds: precomputed states,
no kernel), otherwise the figure it showed when the lesson was executed (the images its Output
widgets hold in the notebook's saved widget state). A cell that would make its slide taller than
the deck's 700 px (estimated from its lines and image sizes) starts a new sub-slide, and a cell
taller than that on its own is cut (between paragraphs, list items, table rows, runs of code
lines, outputs), so that the zoom that fits a slide still too tall in the browser
(``FIT_SCRIPT``) stays at 0.8 or more at 1280x720.
"""

from __future__ import annotations

import base64
import copy
import html
import json
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "slides"
REVEAL_VERSION = "4.6.1"
MATHJAX_VERSION = "2.7.7"
SLIDE_WIDTH, SLIDE_HEIGHT = 1000, 700
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


VENDOR = {  # npm package -> files the decks load (kept under slides/, so decks work offline)
    f"reveal.js@{REVEAL_VERSION}": {"dist/": "reveal.js/dist/", "plugin/": "reveal.js/plugin/"},
    "requirejs@2.3.7": {"require.js": "vendor/require.js"},
    "jquery@2.2.4": {"dist/jquery.min.js": "vendor/jquery.min.js"},
    f"mathjax@{MATHJAX_VERSION}": {
        "MathJax.js": "vendor/mathjax/MathJax.js",
        "config/": "vendor/mathjax/config/",
        "extensions/": "vendor/mathjax/extensions/",
        "jax/input/TeX/": "vendor/mathjax/jax/input/TeX/",
        "jax/output/CommonHTML/": "vendor/mathjax/jax/output/CommonHTML/",
        "jax/element/": "vendor/mathjax/jax/element/",
        "fonts/HTML-CSS/TeX/woff/": "vendor/mathjax/fonts/HTML-CSS/TeX/woff/",
        "localization/en/": "vendor/mathjax/localization/en/",
    },
}
# nbconvert loads mermaid (diagrams in Markdown) from a CDN in every deck; no lesson uses it.
MERMAID = re.compile(r'<script type="module">\s*import mermaid from [^<]*</script>\s*')
MATHJAX_URL = "vendor/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"

FIT_SCRIPT = """
<style>
.reveal .jp-OutputArea-output img { max-width: 100%; max-height: 520px; width: auto;
  height: auto; object-fit: contain; }
</style>
<script>
/* Zoom out any slide whose content is taller than the deck (trainlab scripts/slides.py). */
require(["reveal.js/dist/reveal.js"], function (Reveal) {
  function extent(slide) {  /* height of the slide's content in slide px */
    var top = Infinity, bottom = -Infinity;
    slide.querySelectorAll("*").forEach(function (el) {
      var r = el.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) {
        top = Math.min(top, r.top);
        bottom = Math.max(bottom, r.bottom);
      }
    });
    return bottom > top ? (bottom - top) / Reveal.getScale() : 0;
  }
  function fitNow(slide) {
    var height = Reveal.getConfig().height, zoom = 1;
    slide.style.zoom = 1;
    Reveal.layout();
    for (var k = 0; k < 4; k++) {
      var needed = extent(slide);
      if (needed <= 0.98 * height) { break; }
      zoom = zoom * 0.96 * height / needed;
      slide.style.zoom = zoom.toFixed(3);
      Reveal.layout();
    }
    slide.dataset.fitZoom = slide.style.zoom;
  }
  function fit(slide) {  /* after the slide's images are decoded; returns a promise */
    if (!slide) { return Promise.resolve(); }
    var images = Array.prototype.map.call(slide.querySelectorAll("img"), function (img) {
      return img.decode().catch(function () {});
    });
    return Promise.all(images).then(function () { fitNow(slide); });
  }
  function fitCurrent() { return fit(Reveal.getCurrentSlide()); }
  function hook() {
    if (!Reveal.isReady()) { return setTimeout(hook, 100); }
    Reveal.configure({center: false});
    Reveal.on("slidechanged", fitCurrent);
    Reveal.on("fragmentshown", fitCurrent);
    if (window.MathJax && MathJax.Hub) { MathJax.Hub.Queue(fitCurrent); }
    fitCurrent();
    window.Reveal = Reveal;
    window.trainlabFit = fit;
  }
  hook();
});
</script>
"""


def _unpack(npm: str, spec: str, files: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([npm, "pack", spec, "--silent"], cwd=tmp, check=True,
                       capture_output=True)
        tarball = next(Path(tmp).glob("*.tgz"))
        with tarfile.open(tarball) as tar:
            tar.extractall(tmp, filter="data")
        for src, dst in files.items():
            source, target = Path(tmp, "package", src), OUT / dst
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                shutil.copy(source, target)


def ensure_vendor() -> None:
    """Fetch reveal.js, require.js and jQuery from the npm registry unless already there."""
    missing = {spec: files for spec, files in VENDOR.items()
               if not all((OUT / dst).exists() for dst in files.values())}
    if not missing:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is needed once to fetch reveal.js (apt-get install npm)")
    for spec, files in missing.items():
        _unpack(npm, spec, files)


def _widget_images(model_id: str, state: dict, seen: set[str] | None = None) -> list[dict]:
    """The image outputs held by widget ``model_id`` and its descendants, in display order."""
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in state:
        return []
    seen.add(model_id)
    model = state[model_id].get("state", {})
    images = [copy.deepcopy(o) for o in model.get("outputs", [])
              if "image/png" in o.get("data", {})]
    for child in model.get("children", []):
        if isinstance(child, str) and child.startswith("IPY_MODEL_"):
            images += _widget_images(child.removeprefix("IPY_MODEL_"), state, seen)
    return images


def widgets_as_images(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` in which every widget output is replaced by the figures the widget
    showed (from the saved widget state); a widget without a stored figure is dropped, so a
    deck never shows a widget's text repr."""
    nb = copy.deepcopy(nb)
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        has_image = any("image/png" in o.get("data", {}) for o in cell.outputs
                        if WIDGET_VIEW not in o.get("data", {}))
        outputs = []
        for out in cell.outputs:
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                outputs.append(out)
            elif "image/png" in out.get("data", {}):
                # an explorer stores its figure beside its widget view: keep the figure
                out = copy.deepcopy(out)
                out["data"] = {"image/png": out["data"]["image/png"], "text/plain": ["<figure>"]}
                outputs.append(out)
            elif not has_image:
                for image in _widget_images(view.get("model_id", ""), state):
                    image["data"] = {"image/png": image["data"]["image/png"],
                                     "text/plain": ["<figure>"]}
                    outputs.append(nbformat.from_dict({**image, "output_type": "display_data"}))
        cell.outputs = outputs
    nb.metadata.pop("widgets", None)
    return nb


def load_explorers(directory: Path | None) -> list[dict]:
    """The entries of an explorer export's ``index.json`` (``python -m trainlab.explorers
    export DIR``: ``DIR/<name>/index.html`` and ``DIR/index.json``); [] when there is none."""
    if directory is None or not (directory / "index.json").exists():
        return []
    entries = json.loads((directory / "index.json").read_text(encoding="utf-8"))
    entries = entries.get("explorers", entries) if isinstance(entries, dict) else entries
    for entry in entries:
        for key in ("name", "lesson", "title"):
            if key not in entry:
                raise SystemExit(f"{directory / 'index.json'}: an entry lacks {key!r}: {entry}")
        viewer = directory / entry.get("path", f"{entry['name']}/index.html")
        if not viewer.exists():
            raise SystemExit(f"{directory / 'index.json'}: {entry['name']}'s viewer {viewer} "
                             "does not exist")
        entry["path"] = viewer.relative_to(directory).as_posix()
    return entries


def place_explorers(nb: nbformat.NotebookNode, path: Path, explorers: list[dict]) \
        -> tuple[set[int], dict[int, dict]]:
    """The indices of ``nb``'s cells that display a widget, and which exported explorer goes
    with which of them: the cell whose code names the explorer, else the next one in order."""
    widget_cells = {i for i, c in enumerate(nb.cells) if c.cell_type == "code" and any(
        WIDGET_VIEW in o.get("data", {}) for o in c.outputs)}
    mine = [e for e in explorers if f"{int(str(e['lesson'])[:2]):02d}" == path.name[:2]]
    placed: dict[int, dict] = {}
    for entry in mine:
        at = next((i for i in sorted(widget_cells) if i not in placed
                   and re.search(rf"\b{re.escape(entry['name'])}\b", nb.cells[i].source)), None)
        if at is None:
            at = next((i for i in sorted(widget_cells) if i not in placed), None)
        if at is None:
            raise SystemExit(f"explorer {entry['name']} (lesson {entry['lesson']}) has no "
                             f"widget cell left in {path.name} (widget cells: "
                             f"{sorted(widget_cells)})")
        placed[at] = entry
    return widget_cells, placed


def with_viewers(original: nbformat.NotebookNode, path: Path, explorers: list[dict],
                 prefix: str = "explorers/", height: int = 560) -> nbformat.NotebookNode:
    """:func:`widgets_as_images` of ``original``, in which each exported explorer's cell shows
    the explorer's viewer in an iframe instead of its stored figure."""
    nb = widgets_as_images(original)
    _, placed = place_explorers(original, path, explorers)
    for i, entry in placed.items():
        cell = nb.cells[i]
        title = html.escape(entry["title"])
        frame = (f'<iframe src="{prefix}{html.escape(entry["path"])}" title="{title}: '
                 f'interactive explorer" style="width:100%;height:{height}px;border:0" '
                 f'data-explorer="{html.escape(entry["name"])}"></iframe>')
        cell.outputs = [o for o in cell.outputs if "image/png" not in o.get("data", {})] + [
            nbformat.v4.new_output("display_data", data={"text/html": frame,
                                                         "text/plain": f"<{title}>"})]
    return nb


def _png_height(b64: str | list[str], width: int) -> float:
    """Height in px of a base64 PNG shown at most ``width`` px wide."""
    head = base64.b64decode("".join(b64)[:64])
    w, h = struct.unpack(">II", head[16:24])
    return h * min(1.0, width / max(w, 1))


IMAGE_MAX = 520   # px: the most an output figure takes on a slide (FIT_SCRIPT's CSS max-height)


def _estimated_height(cell: nbformat.NotebookNode) -> float:
    """A rough height in px of ``cell`` on a SLIDE_WIDTH-wide slide (wrapped lines, images)."""
    chars = SLIDE_WIDTH // 11

    def lines(text: str, px: float) -> float:
        return sum(1 + len(line) // chars for line in text.splitlines()) * px

    if cell.cell_type == "markdown":
        heads = sum(line.startswith("#") for line in cell.source.splitlines())
        blocks = cell.source.count("\n\n") + cell.source.count("$$") // 2
        return lines(cell.source, 31) + 30 * heads + 14 * blocks + 24
    removed = cell.metadata.get("transient", {}).get("remove_source")
    height = 0.0 if removed or cell.cell_type != "code" else lines(cell.source, 22) + 34
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        if "image/png" in data:
            height += min(IMAGE_MAX, _png_height(data["image/png"], SLIDE_WIDTH)) + 14
        elif "text" in out or "text/plain" in data:
            text = out.get("text") or "".join(data["text/plain"])
            height += lines(text, 35 if out.get("output_type") == "stream" else 21) + 14
        elif "text/html" in data:
            page = "".join(data["text/html"])
            height += (int(m.group(1)) if (m := re.search(r"height:(\d+)px", page))
                       and "<iframe" in page else lines(page, 8)) + 14
    return height


LIST_ITEM = re.compile(r"^(?:[-*+]|\d+\.) ")


def _markdown_blocks(source: str) -> list[str]:
    """``source`` cut at blank lines and before top-level list items, never inside a code fence
    or a $$ block; a block that starts a list item is returned with a leading newline only, so
    that joined blocks stay one list."""
    blocks, current, fence, math = [], [], False, False
    for line in source.splitlines():
        cut = not fence and not math and current and (not line.strip() or LIST_ITEM.match(line))
        if cut:
            blocks.append("\n".join(current))
            current = []
        if line.strip().startswith("```"):
            fence = not fence
        if line.count("$$") % 2 == 1:
            math = not math
        if line.strip() or current:
            current.append(line)
    if current:
        blocks.append("\n".join(current))
    return [piece for block in blocks for piece in _cut_block(block)]


def _cut_block(block: str, rows: int = 5, sentences: int = 3) -> list[str]:
    """A table as pieces of ``rows`` rows under its header; a paragraph of more than 12 lines
    as pieces of ``sentences`` sentences; anything else whole."""
    lines = block.splitlines()
    if len(lines) > rows + 2 and all(line.lstrip().startswith("|") for line in lines):
        return ["\n".join(lines[:2] + lines[k:k + rows]) for k in range(2, len(lines), rows)]
    if len(block) > 12 * (SLIDE_WIDTH // 11) and not any(
            line.lstrip().startswith(("|", "```", "$$", "<")) for line in lines):
        said = re.split(r"(?<=[.;:])\s+(?=[A-Z*(])", " ".join(line.strip() for line in lines))
        return [" ".join(said[k:k + sentences]) for k in range(0, len(said), sentences)]
    return [block]


def _code_chunks(source: str, budget: float) -> list[str]:
    """``source`` cut into runs of lines that fit ``budget`` px each, at blank lines if it can."""
    lines, chunks, start = source.splitlines(), [], 0
    per = max(4, int((budget - 34) // 22) - 2)
    while start < len(lines):
        end = min(len(lines), start + per)
        if end < len(lines):
            blank = [k for k in range(start + per // 2, end) if not lines[k].strip()]
            end = blank[-1] if blank else end
        chunks.append("\n".join(lines[start:end]).strip("\n"))
        start = end
    return [c for c in chunks if c]


def _cut_outputs(outputs: list, budget: float) -> list:
    """``outputs`` with every printed text longer than ``budget`` px cut into runs of lines."""
    per = max(4, int(budget // 36))  # printed lines measured at about 35 px each on a slide
    cut = []
    for out in outputs:
        text = out.get("text", "") if out.get("output_type") == "stream" else ""
        lines = text.splitlines(keepends=True)
        if len(lines) <= per:
            cut.append(out)
            continue
        for k in range(0, len(lines), per):
            piece = copy.deepcopy(out)
            piece["text"] = "".join(lines[k:k + per])
            cut.append(piece)
    return cut


def _pieces(cell: nbformat.NotebookNode, budget: float) -> list[nbformat.NotebookNode]:
    """``cell`` as one or more cells, each estimated to fit ``budget`` px where it can: a long
    Markdown cell is cut between paragraphs, a code cell's outputs that do not fit under its code
    go on the next sub-slides (without the code), one figure or one block per slide at most."""
    if _estimated_height(cell) <= budget:
        return [cell]
    parts: list[nbformat.NotebookNode] = []
    if cell.cell_type == "markdown":
        for block in _markdown_blocks(cell.source):
            piece = nbformat.v4.new_markdown_cell(block)
            if parts and _estimated_height(parts[-1]) + _estimated_height(piece) <= budget:
                joint = "\n" if LIST_ITEM.match(block) else "\n\n"
                parts[-1].source += joint + block
            else:
                parts.append(piece)
    elif cell.cell_type == "code":
        for chunk in _code_chunks(cell.source, budget):
            head = copy.deepcopy(cell)
            head.source, head.outputs = chunk, []
            parts.append(head)
        for out in _cut_outputs(cell.outputs, budget):
            trial = copy.deepcopy(parts[-1])
            trial.outputs.append(out)
            if _estimated_height(trial) <= budget or not parts[-1].outputs and \
                    parts[-1].metadata.get("transient", {}).get("remove_source"):
                parts[-1] = trial
                continue
            piece = copy.deepcopy(cell)
            piece.outputs = [out]
            piece.metadata["transient"] = {"remove_source": True}
            parts.append(piece)
    else:
        return [cell]
    for k, part in enumerate(parts):
        if "id" in cell:  # unique ids: the first piece keeps the cell's
            part["id"] = cell["id"] if k == 0 else f"{cell['id'][:56]}-{k}"
        part.metadata = copy.deepcopy(cell.metadata) if k == 0 else {
            **{key: v for key, v in part.metadata.items() if key == "transient"},
            "slideshow": {"slide_type": "subslide"}}
    return parts


def split_tall_slides(nb: nbformat.NotebookNode, budget: float = SLIDE_HEIGHT - 60) \
        -> nbformat.NotebookNode:
    """A copy of ``nb`` in which a cell that would push its slide past ``budget`` px (estimated)
    starts a new sub-slide, and a cell taller than ``budget`` on its own is cut into pieces
    (:func:`_pieces`), so that FIT_SCRIPT's zoom stays at or above 0.8."""
    nb = copy.deepcopy(nb)
    used, cells = 0.0, []
    for cell in nb.cells:
        show = cell.metadata.setdefault("slideshow", {})
        kind = show.get("slide_type", "-")
        if kind in ("skip", "notes"):
            cells.append(cell)
            continue
        for piece in _pieces(cell, budget):
            height = _estimated_height(piece)
            kind = piece.metadata.get("slideshow", {}).get("slide_type", "-")
            if kind in ("slide", "subslide"):
                used = height
            elif used + height > budget and used > 0:
                piece.metadata.setdefault("slideshow", {})["slide_type"] = "subslide"
                used = height
            else:
                used += height
            cells.append(piece)
    nb.cells = cells
    return nb


def build(paths: list[Path], explorers_dir: Path | None = None) -> list[Path]:
    """One deck per lesson into slides/; with ``explorers_dir`` (an explorer export), each
    exported explorer is its viewer (copied to slides/explorers/) instead of a frozen figure."""
    ensure_vendor()
    explorers = load_explorers(explorers_dir)
    if explorers:
        shutil.rmtree(OUT / "explorers", ignore_errors=True)
        shutil.copytree(explorers_dir, OUT / "explorers")
    exporter = SlidesExporter(reveal_url_prefix="reveal.js", reveal_theme="white",
                              reveal_transition="none", require_js_url="vendor/require.js",
                              jquery_url="vendor/jquery.min.js", mathjax_url=MATHJAX_URL,
                              reveal_width=str(SLIDE_WIDTH), reveal_height=str(SLIDE_HEIGHT))
    written = []
    for path in paths:
        nb = with_viewers(nbformat.read(path, as_version=4), path, explorers)
        nb = split_tall_slides(nb)
        body, _ = exporter.from_notebook_node(nb)
        body = MERMAID.sub("", body).replace("</body>", FIT_SCRIPT + "</body>", 1)
        if "cdnjs" in body or "unpkg.com" in body:
            raise RuntimeError(f"{path.name}: the deck still loads something from a CDN")
        out = OUT / f"{path.stem}.slides.html"
        out.write_text(body, encoding="utf-8")
        written.append(out)
        print(f"slides: {out.relative_to(ROOT)}")
    return written


def main(argv: list[str]) -> int:
    explorers = ROOT / "build" / "explorers"
    if argv[:1] == ["--explorers"]:
        explorers, argv = Path(argv[1]), argv[2:]
    paths = [Path(a) for a in argv] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    OUT.mkdir(exist_ok=True)
    build(paths, explorers)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
