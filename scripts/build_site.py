"""Build the course website (Sphinx + myst-nb + sphinx-book-theme) into build/site/html.

    python scripts/build_site.py [--sphinx .site-venv/bin/sphinx-build] [--explorers DIR]
                                 [--no-decks]

Nothing is executed: every lesson page shows the outputs stored in the notebook. The pages are
staged in build/site-src/ from site/ (conf.py, CSS) and generated files:

* ``lessons/NN_*.ipynb``: each lesson with a launch bar instead of its Colab badge (Colab for the
  student and the solution version, Binder, downloads), no navigation cell (the site has its
  own), every widget replaced by the figure it stored (``scripts/slides.py``) or, when the
  explorers were exported (``python -m trainlab.explorers export DIR``), by the exported viewer
  in an iframe, and alt text on every figure written from its cell: the section, the titles and
  axis labels the cell sets and the numbers it prints;
* ``index.md`` (the course map), ``lecturers.md`` (decks, homework, grading), ``references.md``
  (every lesson's references);
* ``_extra/``: the notebooks to download, the offline decks (``make slides``) and the explorers.

MathJax 3 comes from the npm registry (``npm pack mathjax``) once and is kept in build/vendor/,
so the site works offline and from a plain static file server.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import nbtools  # noqa: E402
import slides  # noqa: E402
from trainlab import figdata  # noqa: E402

SITE = ROOT / "site"
STAGE = ROOT / "build" / "site-src"
OUT = ROOT / "build" / "site" / "html"
VENDOR = ROOT / "build" / "vendor"
MATHJAX = "mathjax@3.2.2"
MATHJAX_FILES = ["es5/tex-chtml.js", "es5/output/chtml/fonts/woff-v2", "es5/input/tex/extensions"]
EXPLORER_HEIGHT = 760   # px of an explorer's iframe when the page cannot read the viewer's size
EXTERNAL = re.compile(  # a resource a page loads from another host (not a link to one)
    r"""<(?:script|link|img|iframe|source)\b[^>]*\b(?:src|href)=["'](?:https?:)?//""", re.I)
PLOT_TEXT = re.compile(  # the text a cell writes on its figure
    r"""(?:set_title|set_xlabel|set_ylabel|suptitle|set_label)\(\s*f?["']([^"'{}]{3,80})""")


def repo_slug() -> str:
    return nbtools.REPO_URL.split("github.com/", 1)[1].rstrip("/")


def binder_url(name: str) -> str:
    path = quote(f"notebooks/{name}", safe="")
    return f"https://mybinder.org/v2/gh/{repo_slug()}/HEAD?labpath={path}"


def launch_bar(name: str, has_student: bool) -> str:
    links = []
    if has_student:
        links.append((nbtools.colab_url(f"student/{name}"), "Colab (student)"))
    links.append((nbtools.colab_url(name), "Colab (solutions)" if has_student else "Colab"))
    links.append((binder_url(name), "Binder"))
    links.append((f"../notebooks/{name}", "Download .ipynb"))
    if has_student:
        links.append((f"../notebooks/student/{name}", "Download student .ipynb"))
    items = "\n".join(
        f'<li><a href="{html.escape(url)}"{" download" if not url.startswith("http") else ""}>'
        f"{html.escape(text)}</a></li>" for url, text in links)
    return f'<ul class="trainlab-launch" aria-label="Open or download this lesson">\n{items}\n</ul>'


# --- alt text ---------------------------------------------------------------------------------

def _clean(text: str, limit: int) -> str:
    text = re.sub(r"\s+", " ", re.sub(r"[*_`#|]", "", text)).strip()
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def alt_text(cell: nbformat.NotebookNode, heading: str) -> str:
    """What a cell's figure shows. From the numbers behind it when the lesson stored them
    (``trainlab.figdata``: every figure a lesson displays carries its panels' titles, axes and
    series summaries in its output metadata): the section it is in, then per panel its axes
    and each series' numbers. Otherwise (a figure an explorer stored beside its widget), from
    the cell: the section, the titles and labels the cell writes, its number of panels and the
    numbers it prints beside it."""
    records = [o.get("metadata", {}).get(figdata.META_KEY) for o in cell.outputs
               if "image/png" in o.get("data", {})]
    records = [r for r in records if isinstance(r, dict) and r.get("panels")]
    if records:
        texts = [figdata.alt_text(r, _clean(heading, 80)) for r in records]
        if len(texts) == 1:
            return texts[0]
        return " ".join(f"Figure {k + 1} of {len(texts)}: {t}" for k, t in enumerate(texts))
    return _alt_from_cell(cell, heading)


def _alt_from_cell(cell: nbformat.NotebookNode, heading: str) -> str:
    panels = ""
    for out in cell.outputs:
        plain = "".join(out.get("data", {}).get("text/plain", ""))
        m = re.search(r"with (\d+) Axes", plain)
        if m:
            panels = f"{m.group(1)} panels" if m.group(1) != "1" else "one panel"
    labels = list(dict.fromkeys(PLOT_TEXT.findall(cell.source)))
    printed = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream"
                      and o.get("name") == "stdout")
    parts = [f"Figure{' (' + panels + ')' if panels else ''} for “{_clean(heading, 80)}”"]
    if labels:
        parts.append("showing " + "; ".join(_clean(s, 60) for s in labels[:6]))
    if printed.strip():
        parts.append("the numbers behind it, printed by the same cell: " + _clean(printed, 420))
    else:
        comment = next((line.lstrip("# ").strip() for line in cell.source.splitlines()
                        if line.startswith("#") and "NBVAL" not in line), "")
        if comment:
            parts.append(_clean(comment, 200))
    return ", ".join(parts[:2]) + (". " + parts[2][0].upper() + parts[2][1:] if len(parts) > 2
                                   else "") + "."


# --- explorers --------------------------------------------------------------------------------

def explorer_cell(entry: dict) -> nbformat.NotebookNode:
    title = html.escape(entry["title"])
    states = entry.get("states")
    count = f"{states} precomputed states" if isinstance(states, int) else "precomputed states"
    body = (f'<figure class="trainlab-explorer">\n'
            f'<iframe src="../explorers/{html.escape(entry["path"])}" '
            f'title="{title}: interactive explorer, {count}" height="{EXPLORER_HEIGHT}" '
            f'data-explorer="{html.escape(entry["name"])}"></iframe>\n'
            f"<figcaption>{title}: this explorer moves without a kernel, through {count} "
            "computed when the site was built (controls offer only those values). For any other "
            "value, open the lesson in Colab or Binder (links at the top) or run it with "
            "<code>make lab</code>, then run the cell above.</figcaption>\n</figure>")
    return nbformat.v4.new_markdown_cell(body)


def frozen_note() -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(
        '<p class="trainlab-live-note">The figure above is the one this explorer showed when the '
        "lesson was executed. To move its controls, open the lesson in Colab or Binder (links at "
        "the top) or run it with <code>make lab</code>.</p>")


# --- lessons ----------------------------------------------------------------------------------

def site_lesson(path: Path, explorers: list[dict]) -> nbformat.NotebookNode:
    original = nbformat.read(path, as_version=4)
    nb = slides.widgets_as_images(original)
    has_student = (ROOT / "notebooks" / "student" / path.name).exists()
    widget_cells, placed = slides.place_explorers(original, path, explorers)
    cells, heading = [], path.stem
    for i, cell in enumerate(nb.cells):
        tag = cell.metadata.get("trainlab")
        if tag == "nav":
            continue
        if tag == "setup":  # the same generated cell in every lesson: folded on the page
            cell.metadata.setdefault("tags", []).append("hide-input")
        if tag == "header":
            cells.append(nbformat.v4.new_markdown_cell(launch_bar(path.name, has_student)))
            continue
        if cell.cell_type == "markdown":
            found = [line.lstrip("#").strip() for line in cell.source.splitlines()
                     if line.startswith("#")]
            heading = found[-1] if found else heading
        if cell.cell_type == "code" and i in placed:
            cell.outputs = [o for o in cell.outputs if "image/png" not in o.get("data", {})]
        if cell.cell_type == "code" and any("image/png" in o.get("data", {}) for o in cell.outputs):
            cell.metadata["mystnb"] = {"image": {"alt": alt_text(cell, heading)}}
        cells.append(cell)
        if i in placed:
            cells.append(explorer_cell(placed[i]))
        elif i in widget_cells:
            cells.append(frozen_note())
    nb.cells = cells
    return nb


def references_of(nb: nbformat.NotebookNode) -> str:
    """The body of the lesson's ``## References`` section (up to the next heading)."""
    for cell in nb.cells:
        m = re.search(r"^## References[^\n]*\n(.*?)(?=^#{1,2} |\Z)", cell.source, re.M | re.S)
        if cell.cell_type == "markdown" and m:
            return m.group(1).strip()
    return ""


# --- generated pages --------------------------------------------------------------------------

def index_page(paths: list[Path], titles: list[str], summaries: list[str]) -> str:
    rows = "\n".join(f"| {p.name[:2]} | [{t}](lessons/{p.stem}.ipynb) | {s} |"
                     for p, t, s in zip(paths, titles, summaries, strict=True))
    lessons = "\n".join(f"lessons/{p.stem}" for p in paths)
    return f"""# trainlab: training deep networks

An interactive course on *training* deep networks: activation functions, data preprocessing,
weight initialisation, batch normalisation, dropout and the alternatives to batch norm. Every
claim is demonstrated by code that runs in seconds on a laptop CPU, and every page below shows
the outputs the lesson printed when it was executed.

## Course map

| # | lesson | what it teaches |
|---|---|---|
{rows}

## Using this site

- Each lesson page starts with links that open it in **Google Colab** (the student version
  with the exercises to do, or the version with solutions), on **Binder**, or download it.
- The explorers (sliders and a figure) move on the page without Python: each shows states
  computed when the site was built. For other values, run the lesson itself.
- The site needs no network: it can be opened from a folder or any static file server.
- Lecturers: [slides, homework and grading](lecturers.md); all papers: [references](references.md).

```{{toctree}}
:hidden:
:caption: Lessons

{lessons}
```

```{{toctree}}
:hidden:
:caption: Course

lecturers
references
```
"""


def lecturers_page(paths: list[Path], titles: list[str], decks: bool) -> str:
    deck_rows, hw_rows = [], []
    for p, t in zip(paths, titles, strict=True):
        if decks:
            deck_rows.append(f"| {p.name[:2]} | {t} | "
                             f'<a href="decks/{p.stem}.slides.html">offline deck</a> |')
        if (ROOT / "notebooks" / "student" / p.name).exists():
            hw_rows.append(
                f"| {p.name[:2]} | {t} | [Colab]({nbtools.colab_url('student/' + p.name)}) | "
                f'<a href="notebooks/student/{p.name}" download>student notebook</a> | '
                f'<a href="notebooks/{p.name}" download>with solutions</a> |')
    deck_table = ("| # | lesson | deck |\n|---|---|---|\n" + "\n".join(deck_rows)) if decks else \
        "(This build was made with `--no-decks`; `make slides` writes the decks into `slides/`.)"
    return f"""# For lecturers

## Slides

**Live, with working widgets:** `make lab`, open a lesson, *Run All*, then press the deck button
in the notebook toolbar (jupyterlab-slideshow). The deck follows every cell's `slideshow`
metadata and the explorers' sliders work on their slides. Arrow keys move between slides;
*shift+esc* leaves.

**Offline decks** (`make slides`, reveal.js with MathJax, no network needed): each explorer is
shown as the figure it stored when the lesson was executed.

{deck_table}

For a hall, run the lessons in the lecture style (`TRAINLAB_STYLE=lecture make lab`): 14–16 pt
text and thicker lines in every figure.

## Homework

Every lesson from 01 on ends with 3–6 exercises with automatic checks; 08 is the capstone.
The student versions are generated from the lessons by `make homework` (committed in
`notebooks/student/`).

| # | lesson | open | download | |
|---|---|---|---|---|
{chr(10).join(hw_rows)}

## Grading

```bash
.venv/bin/python scripts/homework.py collect ~/Downloads/moodle-export --into submissions/
make grade SUBMISSIONS=submissions WORKERS=2 TIMEOUT=60
# -> homework/graded/marks.csv, feedback/<id>__<lesson>.html, results.json
```

Only the students' solution cells are taken from a hand-in; they run in a fresh, sandboxed
interpreter and the checks (hidden cases included) come from the committed lesson, with partial
credit per check. The README's *Homework* section has the details.
"""


def references_page(paths: list[Path], titles: list[str],
                    nbs: list[nbformat.NotebookNode]) -> str:
    parts = ["# References", "", "The papers and sources each lesson cites.", ""]
    for p, t, nb in zip(paths, titles, nbs, strict=True):
        refs = references_of(nb)
        if refs:
            parts += [f"## {p.name[:2]} {t}", "", f"([the lesson](lessons/{p.stem}.ipynb))", "",
                      refs, ""]
    parts += ["## Data", "", "MNIST: LeCun, Cortes & Burges (CC BY-SA 3.0 as commonly stated).", ""]
    return "\n".join(parts)


# --- vendor, decks, build ---------------------------------------------------------------------

def ensure_mathjax() -> Path:
    target = VENDOR / MATHJAX.replace("@", "-")
    if all((target / f).exists() for f in MATHJAX_FILES):
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is needed once to fetch MathJax (apt-get install npm)")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([npm, "pack", MATHJAX, "--silent"], cwd=tmp, check=True,
                       capture_output=True)
        with tarfile.open(next(Path(tmp).glob("*.tgz"))) as tar:
            tar.extractall(tmp, filter="data")
        for f in MATHJAX_FILES:
            src, dst = Path(tmp, "package", f), target / f
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dst, dirs_exist_ok=True)
            else:
                shutil.copy(src, dst)
    return target


def stage(paths: list[Path], explorers_dir: Path | None, decks: bool, where: Path = STAGE) -> None:
    STAGE = where  # noqa: N806 - the staging folder of this build
    if STAGE.exists():
        shutil.rmtree(STAGE)
    shutil.copytree(SITE, STAGE, ignore=shutil.ignore_patterns("explorers"))
    (STAGE / "lessons").mkdir()
    if (ROOT / "notebooks" / "figures").exists():  # images a lesson's Markdown shows
        shutil.copytree(ROOT / "notebooks" / "figures", STAGE / "lessons" / "figures")
    extra = STAGE / "_extra"
    (extra / "notebooks" / "student").mkdir(parents=True)
    mathjax = ensure_mathjax()
    es5 = mathjax / "es5"
    shutil.copytree(es5, STAGE / "_static" / "mathjax")
    explorers = slides.load_explorers(explorers_dir)
    if explorers:
        shutil.copytree(explorers_dir, extra / "explorers")
    nbs = [nbformat.read(p, as_version=4) for p in paths]
    titles = [nbtools.title_of(nb, p) for nb, p in zip(nbs, paths, strict=True)]
    summaries = [nbtools.summary_of(nb) for nb in nbs]
    for p in paths:
        nbformat.write(site_lesson(p, explorers), STAGE / "lessons" / p.name)
        shutil.copy(p, extra / "notebooks" / p.name)
        student = ROOT / "notebooks" / "student" / p.name
        if student.exists():
            shutil.copy(student, extra / "notebooks" / "student" / p.name)
    if decks:
        slides.OUT.mkdir(exist_ok=True)
        slides.build(paths, explorers_dir)
        shutil.copytree(slides.OUT, extra / "decks",
                        ignore=shutil.ignore_patterns("*.png", "*.json"))
    (STAGE / "index.md").write_text(index_page(paths, titles, summaries), encoding="utf-8")
    (STAGE / "lecturers.md").write_text(lecturers_page(paths, titles, decks), encoding="utf-8")
    (STAGE / "references.md").write_text(references_page(paths, titles, nbs), encoding="utf-8")


def check_offline(out: Path) -> None:
    """Fail when a built page loads anything from another host (links to other sites are fine)."""
    bad = []
    for page in out.rglob("*.html"):
        if "decks" in page.relative_to(out).parts[:1]:
            continue  # scripts/slides.py checks its decks itself
        bad += [f"{page.relative_to(out)}: {m.group(0)[:120]}"
                for m in EXTERNAL.finditer(page.read_text(encoding="utf-8", errors="replace"))]
    if bad:
        raise SystemExit("the site loads resources from other hosts:\n" + "\n".join(bad[:10]))


def build(sphinx: str, explorers_dir: Path | None, decks: bool = True,
          paths: list[Path] | None = None, stage_dir: Path = STAGE, out: Path = OUT) -> Path:
    """Stage and build the site into ``out``; returns ``out``."""
    started = time.perf_counter()
    paths = paths or nbtools.lesson_paths()
    stage(paths, explorers_dir, decks, stage_dir)
    if out.exists():
        shutil.rmtree(out)
    subprocess.run([sphinx, "-b", "html", "-q", "-j", "1", "-d",
                    str(stage_dir.parent / f"{stage_dir.name}-doctrees"), str(stage_dir), str(out)],
                   check=True)
    check_offline(out)
    print(f"site: {out}/index.html ({len(paths)} lessons, "
          f"{len(slides.load_explorers(explorers_dir))} explorers embedded, "
          f"{time.perf_counter() - started:.0f} s)")
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sphinx", default=str(ROOT / ".site-venv" / "bin" / "sphinx-build"))
    parser.add_argument("--explorers", type=Path, default=ROOT / "build" / "explorers",
                        help="folder written by `python -m trainlab.explorers export` "
                             "(embedded when it holds index.json)")
    parser.add_argument("--no-decks", action="store_true", help="leave the offline decks out")
    args = parser.parse_args(argv)
    build(args.sphinx, args.explorers, decks=not args.no_decks)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
