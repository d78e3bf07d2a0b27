"""A Gradescope autograder built from the course's own grader.

    python scripts/gradescope.py build [--out homework/gradescope.zip] [--lesson 06_dropout]
    python scripts/gradescope.py run                 # inside Gradescope (run_autograder)

``build`` writes a zip that follows Gradescope's autograder specification
(https://gradescope-autograders.readthedocs.io/en/latest/specs/): ``setup.sh`` and
``run_autograder`` at its root, and the grader (``lib/trainlab``, ``scripts/homework.py`` and the
committed lessons, whose check cells and hidden cases are the checks) with the course data the
capstone's check trains on. Gradescope unpacks it into ``/autograder/source`` and runs
``setup.sh`` once; for each submission it puts the student's files into
``/autograder/submission`` and runs ``run_autograder``, which grades the notebook exactly as
``homework.py grade`` does and writes ``/autograder/results/results.json``: the total, and one
test per exercise (name, score, max_score, output, visibility), a written answer (graded by
hand) as a test with score 0 whose output holds the student's text.

``GRADESCOPE_ROOT`` (default ``/autograder``) moves the whole layout, so that a test can run
``run_autograder`` in a temporary folder; ``TRAINLAB_GRADER_PYTHON`` names the interpreter
(default ``/autograder/venv/bin/python``, made by ``setup.sh``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "lib"))
import homework  # noqa: E402
from trainlab import data  # noqa: E402
from trainlab.checks import grading  # noqa: E402

PINNED = ("numpy", "nbformat")
"""What the grader needs besides the standard library, at the lock's versions."""
SCRIPTS = ("homework.py", "lms.py", "nbtools.py", "gradescope.py")
TIMEOUT = 300.0
"""Seconds per submission: the capstone trains its network for three seeds."""

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
# bubblewrap: the grader runs each learner's code in its own sandbox where the kernel allows it
apt-get install -y python3 python3-venv python3-pip bubblewrap
python3 - <<'EOF'
import sys
if sys.version_info < (3, 11):
    sys.exit("trainlab's grader needs Python >= 3.11: choose the Ubuntu 24.04 base image in "
             "the assignment's autograder settings")
EOF
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --disable-pip-version-check {requirements}
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission (working directory /autograder).
set -euo pipefail
ROOT="${GRADESCOPE_ROOT:-/autograder}"
PY="${TRAINLAB_GRADER_PYTHON:-/autograder/venv/bin/python}"
export TRAINLAB_DATA_DIR="$ROOT/source/data" TRAINLAB_NO_PROGRESS=1 PYTHONHASHSEED=0
exec "$PY" "$ROOT/source/scripts/gradescope.py" run --root "$ROOT"
"""


def _requirements() -> str:
    lock = (ROOT / "requirements-lock.txt").read_text(encoding="utf-8").splitlines()
    pins = {line.split("==")[0].lower(): line.strip() for line in lock if "==" in line}
    missing = [p for p in PINNED if p not in pins]
    if missing:
        raise ValueError(f"requirements-lock.txt pins no {', '.join(missing)}")
    return " ".join(pins[p] for p in PINNED)


def _lesson_stems(lesson: str | None) -> list[str]:
    stems = sorted(homework.lesson_index())
    if lesson is not None and lesson not in stems:
        raise ValueError(f"unknown lesson {lesson!r}: expected one of {', '.join(stems)}")
    return [lesson] if lesson else stems


def build(out: Path, lesson: str | None = None, secret: bytes | None = None) -> Path:
    """The autograder zip for ``lesson`` (every graded lesson when None). ``secret``: the term's
    grading secret, stored in the zip (Gradescope keeps autograders private to the course's
    staff) so that the hidden cases are drawn from it, as ``homework.py grade --secret-file``."""
    stems = _lesson_stems(lesson)
    out.parent.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for path in sorted((ROOT / "lib" / "trainlab").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files[str(Path("lib") / path.relative_to(ROOT / "lib"))] = path
    for name in SCRIPTS:
        files[f"scripts/{name}"] = ROOT / "scripts" / name
    for stem in _lesson_stems(None):  # every lesson, so that another lesson's notebook is named
        files[f"notebooks/{stem}.ipynb"] = ROOT / "notebooks" / f"{stem}.ipynb"
    for key in data.COURSE_FILES:
        files[f"data/{key}"] = data.ensure_file(key)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in (("setup.sh", SETUP_SH.format(requirements=_requirements())),
                           ("run_autograder", RUN_AUTOGRADER)):
            info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
            info.external_attr = 0o755 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text)
        zf.writestr("config.json", json.dumps({"lessons": stems, "timeout": TIMEOUT}))
        if secret:
            zf.writestr("secret", secret)
        for name, path in files.items():
            zf.write(path, name)
    return out


# --------------------------------------------------------------------------------------------
# Inside Gradescope
# --------------------------------------------------------------------------------------------
def _test(q: dict[str, Any]) -> dict[str, Any]:
    """One Gradescope test for one exercise of the grader's result."""
    name = f"{q['qid']} {q.get('title', '')}".strip()
    if q.get("manual"):
        answer = q.get("answer") or q.get("note") or "no answer"
        return {"name": f"{name} (written answer)", "number": q["qid"], "score": 0.0,
                "max_score": q["points"], "visibility": "visible", "tags": ["manual"],
                "output": "Marked by your lecturer by hand. Your answer:\n\n" + answer}
    lines = []
    for p in q["parts"]:
        where = "hidden case" if p["hidden"] else p["label"]
        lines.append(f"{where}: {p['status']}" + (f": {p['message']}" if p["message"] else ""))
    score = round(sum(p["score"] for p in q["parts"]), 4)
    return {"name": name, "number": q["qid"], "score": score, "max_score": q["points"],
            "status": "passed" if score >= q["points"] - 1e-9 else "failed",
            "visibility": "visible", "output": "\n".join(lines)}


def results_json(result: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Gradescope's results.json for one graded submission (or one that could not be)."""
    score, best = homework._score(result)
    out: dict[str, Any] = {"score": float(score), "execution_time": round(seconds),
                           "visibility": "visible", "stdout_visibility": "hidden",
                           "tests": [_test(q) for q in result["questions"]]}
    head = f"{result['lesson'] or 'no lesson'}: {score:g} / {best:g} points graded automatically"
    out["output"] = head + (f"\n{result['error']}" if result.get("error") else "")
    return out


def _not_graded(why: str) -> dict[str, Any]:
    return {"student": "", "path": "", "lesson": "", "questions": [], "error": why}


def run(root: Path) -> dict[str, Any]:
    """Grade the notebook in ``root/submission``; write ``root/results/results.json``."""
    start = time.monotonic()
    config = json.loads((root / "source" / "config.json").read_text(encoding="utf-8"))
    notebooks = [p for p in sorted((root / "submission").rglob("*.ipynb"))
                 if ".ipynb_checkpoints" not in p.parts]
    if not notebooks:
        result = _not_graded("no .ipynb file in the submission: upload your notebook")
    else:
        lessons = homework.lesson_index()
        found = []
        for path in notebooks:
            stem, why = homework.identify(homework.HandIn("student", path), lessons)
            found.append((path, stem, why))
        ours = [(p, s) for p, s, _ in found if s in config["lessons"]]
        if ours:
            path, stem = max(ours, key=lambda ps: ps[0].stat().st_mtime)
            secret_file = root / "source" / "secret"
            secret = homework.read_secret(secret_file) if secret_file.exists() else None
            # Gradescope grades every submission in a fresh container of its own, which stands in
            # for the sandbox where the container does not allow bubblewrap's namespaces.
            why = grading.isolation.problem()
            result = homework.grade_file("student", path, float(config["timeout"]), stem=stem,
                                         secret=secret, unsafe=bool(why))
            notes = [f"graded without bubblewrap inside Gradescope's own container ({why})"
                     if why else "", "" if secret else homework.PUBLIC_CASES.removeprefix(
                         "warning: ")]
            result["error"] = "; ".join(filter(None, [result.get("error"), *notes]))
            if len(notebooks) > 1:
                result["error"] = "; ".join(filter(None, [result.get("error"), (
                    f"graded {path.name}, the latest of {len(notebooks)} notebooks")]))
        else:
            reasons = "; ".join(f"{p.name}: " + (f"it is {s}, not this assignment's "
                                                 f"{' or '.join(config['lessons'])}" if s else w)
                                for p, s, w in found)
            result = _not_graded(f"no notebook of this assignment: {reasons}")
    payload = results_json(result, time.monotonic() - start)
    target = root / "results" / "results.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    print(re.sub(r"\n+", " | ", payload["output"]))
    return payload


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="write the autograder zip")
    b.add_argument("--out", type=Path, default=ROOT / "homework" / "gradescope.zip")
    b.add_argument("--lesson", help="the one lesson of this Gradescope assignment (default: all)")
    b.add_argument("--secret-file", type=Path, help="the term's grading secret (else "
                   f"${homework.SECRET_ENV}), stored in the zip: hidden cases are drawn from it")
    r = sub.add_parser("run", help="grade /autograder/submission (what run_autograder does)")
    r.add_argument("--root", type=Path,
                   default=Path(os.environ.get("GRADESCOPE_ROOT", "/autograder")))
    args = parser.parse_args(argv)
    if args.cmd == "build":
        try:
            print(build(args.out, args.lesson, homework.read_secret(args.secret_file)))
        except (OSError, ValueError) as exc:
            parser.error(str(exc))
        return 0
    run(args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
