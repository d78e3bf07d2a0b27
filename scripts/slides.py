"""Build the lessons as HTML slide decks (reveal.js), one per notebook, into slides/.

    python scripts/slides.py [notebooks/03_initialisation.ipynb ...]

Cells are placed on slides by their ``metadata.slideshow.slide_type`` (the same metadata that
jupyterlab-slideshow uses to present a lesson live in JupyterLab). Everything a deck loads comes
from the npm registry (``npm pack``) at build time and is kept in slides/, so the decks work
offline: reveal.js, require.js, jQuery and MathJax 2 (formulas). A widget cannot run without a
kernel, so each widget output is replaced by the figure it showed when the lesson was executed
(the images its Output widgets hold in the notebook's saved widget state). A slide whose content
is taller than the deck's 700 px is zoomed out to fit (``FIT_SCRIPT``), so no slide runs off the
screen at 1280x720.
"""

from __future__ import annotations

import copy
import re
import shutil
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
.reveal .jp-OutputArea-output img { max-width: 100%; height: auto; }
</style>
<script>
/* Zoom out any slide whose content is taller than the deck (trainlab scripts/slides.py). */
(function () {
  function fit(slide) {
    if (!slide || !window.Reveal || !Reveal.isReady()) { return; }
    var height = Reveal.getConfig().height;
    slide.style.zoom = 1;
    var needed = slide.scrollHeight;
    if (needed > height) { slide.style.zoom = (height / needed).toFixed(3); }
    slide.dataset.fitZoom = slide.style.zoom;
    Reveal.layout();
  }
  function fitCurrent() { fit(Reveal.getCurrentSlide()); }
  function hook() {
    if (!window.Reveal || !Reveal.isReady()) { return setTimeout(hook, 100); }
    Reveal.on("slidechanged", fitCurrent);
    Reveal.on("fragmentshown", fitCurrent);
    if (window.MathJax && MathJax.Hub) { MathJax.Hub.Queue(fitCurrent); }
    fitCurrent();
    window.trainlabFit = fit;
  }
  window.addEventListener("load", hook);
})();
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
            elif not has_image:
                for image in _widget_images(view.get("model_id", ""), state):
                    image["data"] = {"image/png": image["data"]["image/png"],
                                     "text/plain": ["<figure>"]}
                    outputs.append(nbformat.from_dict({**image, "output_type": "display_data"}))
        cell.outputs = outputs
    nb.metadata.pop("widgets", None)
    return nb


def build(paths: list[Path]) -> list[Path]:
    ensure_vendor()
    exporter = SlidesExporter(reveal_url_prefix="reveal.js", reveal_theme="white",
                              reveal_transition="none", require_js_url="vendor/require.js",
                              jquery_url="vendor/jquery.min.js", mathjax_url=MATHJAX_URL,
                              reveal_width=str(SLIDE_WIDTH), reveal_height=str(SLIDE_HEIGHT))
    written = []
    for path in paths:
        nb = widgets_as_images(nbformat.read(path, as_version=4))
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
    paths = [Path(a) for a in argv] or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    OUT.mkdir(exist_ok=True)
    build(paths)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
