"""Build the lessons as HTML slide decks (reveal.js), one per notebook, into slides/.

    python scripts/slides.py [notebooks/03_initialisation.ipynb ...]

Cells are placed on slides by their ``metadata.slideshow.slide_type`` (the same metadata RISE
uses to present a lesson live in JupyterLab). reveal.js, require.js and jQuery come from the npm
registry (``npm pack``) once and are kept in slides/, so the decks work offline; formulas are
typeset by MathJax from its CDN when the deck is opened with internet access.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from nbconvert import SlidesExporter

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "slides"
REVEAL_VERSION = "4.6.1"


VENDOR = {  # npm package -> files the decks load (kept under slides/, so decks work offline)
    f"reveal.js@{REVEAL_VERSION}": {"dist/": "reveal.js/dist/", "plugin/": "reveal.js/plugin/"},
    "requirejs@2.3.7": {"require.js": "vendor/require.js"},
    "jquery@2.2.4": {"dist/jquery.min.js": "vendor/jquery.min.js"},
}


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


def build(paths: list[Path]) -> list[Path]:
    ensure_vendor()
    exporter = SlidesExporter(reveal_url_prefix="reveal.js", reveal_theme="white",
                              reveal_transition="none", require_js_url="vendor/require.js",
                              jquery_url="vendor/jquery.min.js")
    written = []
    for path in paths:
        body, _ = exporter.from_filename(str(path))
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
