"""Homework from the lessons: student notebooks, a class grader, marks and feedback.

    python scripts/homework.py release            # student notebooks -> notebooks/student/
    python scripts/homework.py check              # exit 1 if they are out of date (CI)
    python scripts/homework.py collect SRC... --into DIR
                                                  # copy submissions into DIR, one id each
    python scripts/homework.py grade DIR_OR_FILES... [--out DIR] [--workers N] [--timeout S]
                                                  # marks.csv, results.json, feedback/*.html
    python scripts/homework.py export --out DIR   # marks.csv again from results.json
    python scripts/homework.py feedback --out DIR # feedback/*.html again from results.json

The committed lessons are the single source, with solutions. Their exercises keep nbgrader's
markup: solution cells between ``### BEGIN SOLUTION`` / ``### END SOLUTION``, check cells
with ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``. ``release`` writes the student
version of every lesson with exercises (solutions replaced by a stub that states the contract,
hidden tests removed, no outputs, no widget state, a Colab badge that opens the student
version itself) into ``notebooks/student/``, committed and checked by ``check`` in CI.

Grading does not use nbgrader's autograder: see :mod:`trainlab.checks.grading` (the learner's
solution cells run in a separate, isolated interpreter; the checks and references run in the
grader's process).
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import re
import shutil
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "lib"))
import nbtools  # noqa: E402
from trainlab.checks import grading  # noqa: E402

LESSONS = ROOT / "notebooks"
STUDENT = LESSONS / "student"
HOMEWORK_KEY = "trainlab_homework"
STUB = "raise NotImplementedError(\"write your code here (see the docstring)\")"
SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*\n?",
                      re.S | re.M)
SOLUTIONS_NOTE = re.compile(r"\*This notebook holds the solutions\.\*\s+Students work in the "
                            r"student version,.*?raises\s+`NotImplementedError`\.", re.S)
STUDENT_NOTE = ("*Student version:* each function below raises `NotImplementedError` until you "
                "write it.")
HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS\n.*?^[ \t]*### END HIDDEN TESTS[ \t]*\n?",
                    re.S | re.M)


def graded_lessons() -> list[Path]:
    """Lessons that contain at least one graded check cell."""
    found = []
    for path in sorted(LESSONS.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if any(c.metadata.get("nbgrader", {}).get("grade") for c in nb.cells):
            found.append(path)
    return found


def lesson_index() -> dict[str, Path]:
    return {p.stem: p for p in graded_lessons()}


# --------------------------------------------------------------------------------------------
# release / check
# --------------------------------------------------------------------------------------------
def student_url(name: str) -> str:
    return nbtools.colab_url(name).replace("/notebooks/", "/notebooks/student/")


def student_version(path: Path, graded: set[str]) -> nbformat.NotebookNode:
    """The student notebook of the lesson at ``path``."""
    nb = nbformat.read(path, as_version=4)
    cells = []
    for cell in nb.cells:
        cell = nbformat.from_dict(cell)
        meta = cell.metadata.get("nbgrader", {})
        if cell.metadata.get("trainlab") == "header":
            cell.source = (
                "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
                f"({student_url(path.name)}) [![Binder]({nbtools.BINDER_BADGE})]"
                f"({nbtools.binder_url('student%2F' + path.name)})\n\n"
                "**Student version.** Write your code where a function raises "
                "`NotImplementedError`, run its check cell, then hand in this notebook "
                "(any file name).")
        elif cell.metadata.get("trainlab") == "nav":
            cell.source = re.sub(r"\]\((\d\d_[a-z_]+\.ipynb)",
                                 lambda m: "](" + (m.group(1) if Path(m.group(1)).stem in graded
                                                  else "../" + m.group(1)), cell.source)
        if cell.cell_type == "markdown":
            cell.source = SOLUTIONS_NOTE.sub(STUDENT_NOTE, cell.source)
            cell.source = cell.source.replace("](figures/", "](../figures/")
        if meta.get("solution"):
            cell.source = SOLUTION.sub(lambda m: f"{m.group(1)}{STUB}\n", cell.source)
        if meta.get("grade"):
            cell.source = HIDDEN.sub("", cell.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
        cells.append(cell)
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    nb.metadata[HOMEWORK_KEY] = {"lesson": path.stem, "version": 1}
    return nb


def _student_files() -> dict[Path, str]:
    lessons = graded_lessons()
    graded = {p.stem for p in lessons}
    return {STUDENT / p.name: nbformat.writes(student_version(p, graded)) + "\n"
            for p in lessons}


def release() -> list[Path]:
    STUDENT.mkdir(exist_ok=True)
    files = _student_files()
    for old in STUDENT.glob("*.ipynb"):
        if old not in files:
            old.unlink()
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
        print(f"student version: {path.relative_to(ROOT)}  ({student_url(path.name)})")
    return list(files)


def check() -> int:
    files = _student_files()
    stale = [p.name for p, text in files.items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    extra = [p.name for p in STUDENT.glob("*.ipynb") if p not in files]
    if stale or extra:
        print("student notebooks out of date: " + ", ".join(stale + extra) +
              "\nrun `make homework` and commit notebooks/student/", file=sys.stderr)
        return 1
    print(f"homework: {len(files)} student notebooks up to date")
    return 0


# --------------------------------------------------------------------------------------------
# collect / grade / export / feedback
# --------------------------------------------------------------------------------------------
def _safe_id(text: str) -> str:
    """A file-system-safe id that keeps letters of any alphabet (Müller stays Müller)."""
    return re.sub(r"[^\w.@-]+", "_", text).strip("_") or "student"


def find_submissions(sources: list[Path], ids: dict[str, str] | None = None
                     ) -> list[tuple[str, Path]]:
    """(student id, notebook) pairs. A folder's notebooks are found recursively; the id is the
    ``ids`` entry for the file name, else the name of the folder holding the file when it is
    a sub-folder of the given one, else the file name without ``.ipynb``."""
    found = []
    for src in sources:
        files = sorted(src.rglob("*.ipynb")) if src.is_dir() else [src]
        for f in files:
            if ".ipynb_checkpoints" in f.parts:
                continue
            if ids and f.name in ids:
                sid = ids[f.name]
            elif src.is_dir() and f.parent != src:
                sid = f.relative_to(src).parts[0]
            else:
                sid = f.stem
            found.append((sid, f))
    return _unique_ids(found)


def _unique_ids(found: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """Safe ids, one per raw id: two different raw ids that make the same safe id (e.g.
    "06 (1)" and "06 [1]") get "-2", "-3", ... and a warning, never one merged row."""
    given: dict[str, str] = {}
    taken: set[str] = set()
    out = []
    for raw, f in found:
        if raw not in given:
            base = candidate = _safe_id(raw)
            n = 1
            while candidate in taken:
                n += 1
                candidate = f"{base}-{n}"
            if candidate != base:
                print(f"warning: student id {raw!r} ({f.name}) would be {base!r} like another "
                      f"submission; it is {candidate!r}", file=sys.stderr)
            given[raw] = candidate
            taken.add(candidate)
        out.append((given[raw], f))
    return out


def collect(sources: list[Path], into: Path) -> list[Path]:
    """Copy every submission into ``into/<student id>/<file name>``."""
    copied = []
    for sid, f in find_submissions(sources):
        dest = into / sid / f.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, dest)
        copied.append(dest)
    print(f"collected {len(copied)} notebooks into {into}")
    return copied


def grade_file(student: str, path: Path, timeout: float = 60.0) -> dict[str, Any]:
    """Grade one submission file; never raises for a broken file."""
    lessons = lesson_index()
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(nb, dict):
            raise ValueError("not a notebook")
    except (OSError, ValueError) as exc:
        return {"student": student, "path": str(path), "lesson": "", "questions": [],
                "error": f"cannot read the notebook: {exc}", "seconds": 0.0}
    stem = grading.lesson_of(nb, lessons)
    if stem is None:
        return {"student": student, "path": str(path), "lesson": "", "questions": [],
                "error": "not a notebook of this course (no lesson metadata or exercise cells)",
                "seconds": 0.0}
    lesson = grading.load_lesson(lessons[stem])
    return grading.grade_notebook(nb, lesson, student, str(path), timeout).to_dict()


def _score(result: dict[str, Any]) -> tuple[float, float]:
    qs = result["questions"]
    return (round(sum(p["score"] for q in qs for p in q["parts"]), 2),
            sum(q["points"] for q in qs))


def grade(sources: list[Path], out: Path, workers: int = 2, timeout: float = 60.0,
          ids: dict[str, str] | None = None) -> list[dict[str, Any]]:
    subs = find_submissions(sources, ids)
    out.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(grade_file, sid, f, timeout) for sid, f in subs]
        results = []
        for (sid, f), fut in zip(subs, futures, strict=True):
            try:
                results.append(fut.result())
            except Exception as exc:  # noqa: BLE001 - one bad file never stops the class
                results.append({"student": sid, "path": str(f), "lesson": "", "questions": [],
                                "error": f"grader error: {exc}", "seconds": 0.0})
    (out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    export(results, out)
    feedback(results, out)
    return results


def export(results: list[dict[str, Any]], out: Path) -> Path:
    """``out/marks.csv``: one row per student, one column per question, then the total."""
    columns = sorted({q["qid"] for r in results for q in r["questions"]})
    rows: dict[str, dict[str, Any]] = {}
    for r in results:
        row = rows.setdefault(r["student"], {"student": r["student"]})
        for q in r["questions"]:
            row[q["qid"]] = round(sum(p["score"] for p in q["parts"]), 2)
        if r.get("error"):
            row["errors"] = "; ".join(filter(None, [row.get("errors"),
                                                    f"{Path(r['path']).name}: {r['error']}"]))
    path = out / "marks.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["student", *columns, "total", "errors"])
        writer.writeheader()
        for sid in sorted(rows):
            row = rows[sid]
            row["total"] = round(sum(row.get(c, 0) for c in columns), 2)
            writer.writerow(row)
    return path


def feedback_html(result: dict[str, Any]) -> str:
    esc = html.escape
    score, best = _score(result)
    lines = ["<!doctype html><meta charset='utf-8'>",
             f"<title>{esc(result['lesson'])}: feedback for {esc(result['student'])}</title>",
             "<style>body{font-family:sans-serif;max-width:60em}td,th{padding:.2em .5em;"
             "vertical-align:top;text-align:left}.passed{color:#0072B2}"
             ".failed,.refused,.missing,.error{color:#D55E00}</style>",
             f"<h1>{esc(result['lesson'] or 'unknown lesson')}</h1>",
             f"<p>Student: <b>{esc(result['student'])}</b> &middot; file "
             f"{esc(Path(result['path']).name)} &middot; score <b>{score:g} / {best:g}</b></p>"]
    if result.get("error"):
        lines.append(f"<p class='error'>{esc(result['error'])}</p>")
    for q in result["questions"]:
        got = round(sum(p["score"] for p in q["parts"]), 2)
        lines.append(f"<h2>{esc(q['qid'])} {esc(q['title'])}: {got:g} / {q['points']:g}</h2>")
        if q.get("note"):
            lines.append(f"<p class='error'>{esc(q['note'])}</p>")
        lines.append("<table><tr><th>check</th><th>points</th><th>result</th></tr>")
        previous = None
        for p in q["parts"]:
            label = "hidden case" if p["hidden"] else f"<code>{esc(p['label'])}</code>"
            text = f"{p['status']}{': ' + p['message'] if p['message'] else ''}"
            shown = "the same" if text == previous and p["status"] != "passed" else text
            previous = text
            lines.append(f"<tr><td>{label}</td><td>{p['score']:.3g} / {p['points']:.3g}</td>"
                         f"<td class='{esc(p['status'].replace(' ', '-'))}'>{esc(shown)}"
                         "</td></tr>")
        lines.append("</table>")
    return "\n".join(lines) + "\n"


def feedback(results: list[dict[str, Any]], out: Path) -> list[Path]:
    """One HTML page per submission in ``out/feedback/<student>__<lesson>.html``."""
    folder = out / "feedback"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for r in results:
        name = f"{_safe_id(r['student'])}__{r['lesson'] or _safe_id(Path(r['path']).stem)}.html"
        path = folder / name
        path.write_text(feedback_html(r), encoding="utf-8")
        written.append(path)
    return written


def report(result: dict[str, Any]) -> str:
    score, best = _score(result)
    lines = [f"{result['student']}  {result['lesson']}  {score:g}/{best:g}"
             + (f"  ERROR {result['error']}" if result.get("error") else "")]
    for q in result["questions"]:
        got = round(sum(p["score"] for p in q["parts"]), 2)
        lines.append(f"  {q['qid']:<8} {got:g}/{q['points']:g}")
        failed = [f"{p['status']}: {p['message']}" for p in q["parts"]
                  if p["status"] != "passed"]
        note = q.get("note")
        if note and not any(note in text for text in failed):
            lines.append(f"    ! {note}")
        for text, n in Counter(failed).items():
            many = f"all {n}" if n == len(q["parts"]) else f"{n} of {len(q['parts'])}"
            lines.append(f"    - {text}" + (f" ({many} checks)" if n > 1 else ""))
    return "\n".join(lines)


def _read_ids(path: Path | None) -> dict[str, str] | None:
    if path is None:
        return None
    with path.open(encoding="utf-8") as fh:
        return {row["file"]: row["student"] for row in csv.DictReader(fh)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("release", help="write the student notebooks into notebooks/student/")
    sub.add_parser("build", help="same as release")
    sub.add_parser("check", help="exit 1 when notebooks/student/ is out of date")
    c = sub.add_parser("collect", help="copy submissions into one folder, one id each")
    c.add_argument("sources", nargs="+", type=Path)
    c.add_argument("--into", type=Path, required=True)
    g = sub.add_parser("grade", help="grade a folder (or files) of submissions")
    g.add_argument("sources", nargs="+", type=Path)
    g.add_argument("--out", type=Path, default=ROOT / "homework" / "graded")
    g.add_argument("--workers", type=int, default=2)
    g.add_argument("--timeout", type=float, default=60.0, help="seconds per submission")
    g.add_argument("--ids", type=Path, help="CSV with columns file,student")
    for name in ("export", "feedback"):
        e = sub.add_parser(name, help=f"{name} again from OUT/results.json")
        e.add_argument("--out", type=Path, default=ROOT / "homework" / "graded")
    args = parser.parse_args(argv)
    if args.cmd in ("release", "build"):
        release()
        return 0
    if args.cmd == "check":
        return check()
    if args.cmd == "collect":
        collect(args.sources, args.into)
        return 0
    if args.cmd == "grade":
        missing = [s for s in args.sources if not s.exists()]
        if missing:
            parser.error(f"no such file or folder: {', '.join(map(str, missing))}")
        results = grade(args.sources, args.out, args.workers, args.timeout, _read_ids(args.ids))
        for r in results:
            print(report(r))
        print(f"marks: {args.out / 'marks.csv'}; feedback: {args.out / 'feedback'}/")
        return 0
    results = json.loads((args.out / "results.json").read_text(encoding="utf-8"))
    if args.cmd == "export":
        print(export(results, args.out))
    else:
        print(f"{len(feedback(results, args.out))} pages in {args.out / 'feedback'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
