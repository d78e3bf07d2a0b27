"""Homework from the lessons: student notebooks, a class grader, marks and feedback.

    python scripts/homework.py release            # student notebooks -> notebooks/student/
    python scripts/homework.py check              # exit 1 if they are out of date (CI)
    python scripts/homework.py giveaways          # exit 1 if an answer stands in an earlier cell
    python scripts/homework.py collect SRC... --into DIR [--lms moodle|canvas|any]
                                                  # copy submissions into DIR, one id each
    python scripts/homework.py grade DIR_OR_FILES... [--out DIR] [--workers N] [--timeout S]
                                   [--ids CSV] [--lms moodle|canvas|any]
                                   [--secret-file F] [--show-hidden-inputs] [--unsafe]
                                                  # marks.csv, duplicates.csv, canvas.csv,
                                                  # moodle_<lesson>.csv, results.json,
                                                  # feedback/*.html (--timeout: per exercise)
    python scripts/homework.py export --out DIR   # marks.csv and the LMS files again
    python scripts/homework.py feedback --out DIR # feedback/*.html again from results.json

Student ids come from an ids table, Moodle's or Canvas's export names (:mod:`lms`), the
sub-folder or the file name; of two hand-ins of one lesson by one student only the latest is
graded (the others go to duplicates.csv); a notebook that is not recognisably one of the
lessons gets an error row, not a grade (:func:`trainlab.checks.grading.recognise`).

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
import ast
import copy
import csv
import html
import json
import os
import re
import shutil
import sys
import textwrap
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "lib"))
import lms  # noqa: E402
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
    written = any(grading.is_written(c) for c in nb.cells)
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
                "`NotImplementedError` and run its check cell"
                + (f", write your answers in place of `{grading.WRITTEN_STUB}`" if written
                   else "")
                + ", then hand in this notebook (any file name).")
        elif cell.metadata.get("trainlab") == "nav":
            cell.source = re.sub(r"\]\((\d\d_[a-z_]+\.ipynb)",
                                 lambda m: "](" + (m.group(1) if Path(m.group(1)).stem in graded
                                                  else "../" + m.group(1)), cell.source)
        if cell.cell_type == "markdown":
            cell.source = SOLUTIONS_NOTE.sub(STUDENT_NOTE, cell.source)
            cell.source = cell.source.replace("](figures/", "](../figures/")
        if cell.metadata.get("trainlab") == "rubric":
            continue
        if grading.is_written(cell):
            cell.source = grading.WRITTEN_STUB
        elif meta.get("solution"):
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


def lecturer_notes(lessons: list[Path]) -> str:
    """Markdown: every written question with its model answer and its rubric (the cell after
    the answer marked ``metadata.trainlab == "rubric"``), for the lecturer who marks them."""
    out = ["# Lecturer's notes: written answers and their rubrics", "",
           "Generated by `make homework` from the lessons (do not edit). The grader collects "
           "each student's written answers into their feedback page and leaves an empty column "
           "per question in `marks.csv` for you to fill in.", ""]
    for path in lessons:
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            if not grading.is_written(cell):
                continue
            meta = cell.metadata["nbgrader"]
            nxt = nb.cells[i + 1] if i + 1 < len(nb.cells) else None
            if nxt is None or nxt.metadata.get("trainlab") != "rubric":
                raise ValueError(f"{path.name}: written answer {meta['grade_id']} has no rubric "
                                 "cell after it (a markdown cell with metadata "
                                 "trainlab: rubric)")
            prompt = nb.cells[i - 1].source if i else ""
            out += [f"## {path.stem} · {meta['grade_id']} ({meta.get('points', 1):g} points)", "",
                    "**Question**", "", prompt.strip(), "", "**Model answer**", "",
                    cell.source.strip(), "", "**Rubric**", "", nxt.source.strip(), ""]
    return "\n".join(out).rstrip() + "\n"


NOTES = LESSONS / "lecturer_notes.md"


def _student_files() -> dict[Path, str]:
    lessons = graded_lessons()
    graded = {p.stem for p in lessons}
    files = {STUDENT / p.name: nbformat.writes(student_version(p, graded)) + "\n"
             for p in lessons}
    if any(grading.is_written(c) for p in lessons
           for c in nbformat.read(p, as_version=4).cells):
        files[NOTES] = lecturer_notes(lessons)
    return files


def release() -> list[Path]:
    STUDENT.mkdir(exist_ok=True)
    files = _student_files()
    for old in STUDENT.glob("*.ipynb"):
        if old not in files:
            old.unlink()
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
        if path == NOTES:
            print(f"lecturer's notes: {path.relative_to(ROOT)}")
        else:
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
# giveaways: no exercise's answer stands in an earlier cell of its lesson
# --------------------------------------------------------------------------------------------
GIVEAWAY_SIZE = 8
"""Expression nodes an answer's expression must have to count: ``x.shape[0]`` or ``x - mu``
give nothing away, ``np.mean(np.all(h <= 0, axis=0))`` (10 nodes) does."""
KEPT_NAMES = frozenset({"np", "math", "torch", "F", "nn"})


class _Rename(ast.NodeTransformer):
    """Variables become v0, v1, ... in order of appearance; a constant subscript of a variable
    (``s["pre"]``, ``stats[1]["pre"]``) counts as one variable; modules such as ``np`` and
    attribute names stay."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def _var(self, key: str) -> ast.Name:
        return ast.Name(id=self.names.setdefault(key, f"v{len(self.names)}"), ctx=ast.Load())

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return node if node.id in KEPT_NAMES else self._var(node.id)

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        root: ast.expr = node
        while isinstance(root, ast.Subscript) and isinstance(root.slice, ast.Constant):
            root = root.value
        if isinstance(root, ast.Name) and root.id not in KEPT_NAMES and root is not node:
            return self._var(ast.unparse(node))
        return self.generic_visit(node)


def _canonical(expr: ast.expr) -> str:
    """The expression's shape, blind to variable names, so renaming does not hide a copy."""
    tree = _Rename().visit(copy.deepcopy(expr))
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


def _size(expr: ast.expr) -> int:
    return sum(isinstance(n, ast.expr) for n in ast.walk(expr))


def _solution_code(source: str) -> str:
    blocks = re.findall(r"^[ \t]*### BEGIN SOLUTION\n(.*?)^[ \t]*### END SOLUTION", source,
                        re.S | re.M)
    return "\n".join(textwrap.dedent(b) for b in blocks)


def _answer_expressions(code: str) -> list[ast.expr]:
    """The answer's maximal expressions (a statement's value, test or target) of countable size."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    found = []
    for stmt in ast.walk(tree):
        if not isinstance(stmt, ast.stmt):
            continue
        for field_name in ("value", "test", "iter", "targets", "target"):
            value = getattr(stmt, field_name, None)
            for expr in value if isinstance(value, list) else [value]:
                if isinstance(expr, ast.expr) and _size(expr) >= GIVEAWAY_SIZE:
                    found.append(expr)
    return found


def giveaways(path: Path) -> list[str]:
    """Every expression of an exercise's answer that already stands, up to variable names, in
    an earlier code cell of the lesson that is not itself an exercise (a solution or check)."""
    nb = nbformat.read(path, as_version=4)
    seen: dict[str, int] = {}
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            for answer in _answer_expressions(_solution_code(cell.source)):
                # the largest part of the answer's expression that an earlier cell shows
                shown = [(e, seen[_canonical(e)]) for e in ast.walk(answer)
                         if isinstance(e, ast.expr) and _size(e) >= GIVEAWAY_SIZE
                         and _canonical(e) in seen]
                if shown:
                    expr, where = shown[0]
                    problems.append(f"{path.name} {meta.get('grade_id', '?')}: "
                                    f"`{ast.unparse(expr)}` already stands in cell {where}")
            continue
        if meta.get("grade"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.expr) and _size(node) >= GIVEAWAY_SIZE:
                seen.setdefault(_canonical(node), index)
    return problems


# --------------------------------------------------------------------------------------------
# collect / grade / export / feedback
# --------------------------------------------------------------------------------------------
MAX_ROW = "(max points)"
"""The ``student`` of marks.csv's first row: every column's maximum."""


def _safe_id(text: str) -> str:
    """A file-system-safe id that keeps letters of any alphabet (Müller stays Müller)."""
    return re.sub(r"[^\w.@-]+", "_", text).strip("_") or "student"


@dataclass
class HandIn:
    """One submitted notebook: who, which file, and when (for choosing among duplicates)."""

    student: str
    path: Path
    name: str = ""
    stamp: float = 0.0
    """Submission time (seconds since the epoch): the ids table's ``submitted`` column, else
    the file's modification time (kept by zip and by ``collect``)."""
    upload: int = 0
    """Canvas's upload id, which grows with every upload: it orders hand-ins of one student."""
    late: bool = False


def _parse_time(text: str, where: str) -> float:
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ValueError(f"{where}: submitted time {text!r} is not an ISO date and time "
                         "such as 2026-12-01T17:05:00") from None


def discover(sources: list[Path], ids: dict[str, dict[str, str]] | None = None,
             system: str | None = None) -> list[HandIn]:
    """Every notebook under ``sources`` with its student.

    The id is, in this order: the ``ids`` table's entry for the file name; the LMS export name
    (Moodle's ``Full Name_12345_assignsubmission_file_`` folder or file name, always
    recognised; Canvas's ``name_12345_67890_file.ipynb`` when ``system`` is "canvas" or
    "any"); the
    name of the sub-folder holding the file; the file name without ``.ipynb``. With
    ``system`` given, a name that is not that LMS's is an error naming the files."""
    found: list[tuple[str, HandIn]] = []
    unmatched: list[str] = []
    for src in sources:
        files = sorted(src.rglob("*.ipynb")) if src.is_dir() else [src]
        for f in files:
            if ".ipynb_checkpoints" in f.parts:
                continue
            rel = f.relative_to(src) if src.is_dir() else Path(f.name)
            hand = HandIn("", f, stamp=f.stat().st_mtime)
            row = (ids or {}).get(f.name)
            parsed = lms.parse(rel, system)
            if row is not None:
                raw, hand.name = row["student"], row.get("name", "") or ""
                if row.get("submitted"):
                    hand.stamp = _parse_time(row["submitted"], f.name)
            elif parsed is not None:
                raw, hand.name, hand.upload, hand.late = (parsed.student, parsed.name,
                                                          parsed.upload, parsed.late)
            elif system is not None:
                unmatched.append(str(rel))
                continue
            elif src.is_dir() and f.parent != src:
                raw = rel.parts[0]
            else:
                raw = f.stem
            found.append((raw, hand))
    if unmatched:
        what = "Moodle or Canvas" if system == "any" else str(system).capitalize()
        raise ValueError(f"{len(unmatched)} file name(s) are not {what} export names "
                         f"(expected e.g. {lms.example(str(system))}): "
                         + ", ".join(unmatched[:10]) + (" ..." if len(unmatched) > 10 else ""))
    for (sid, _), (_, hand) in zip(_unique_ids([(raw, h.path) for raw, h in found]), found,
                                   strict=True):
        hand.student = sid
    return [h for _, h in found]


def find_submissions(sources: list[Path], ids: dict[str, str] | None = None,
                     system: str | None = None) -> list[tuple[str, Path]]:
    """(student id, notebook) pairs (see :func:`discover`); ``ids`` maps file name -> id."""
    table = {k: {"student": v} for k, v in (ids or {}).items()} if ids else None
    return [(h.student, h.path) for h in discover(sources, table, system)]


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


def _free(path: Path) -> Path:
    """``path``, or ``name (2).ipynb``, ``name (3).ipynb``, ... when it exists."""
    n, candidate = 1, path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
    return candidate


def collect(sources: list[Path], into: Path, system: str | None = None) -> list[Path]:
    """Copy every submission into ``into/<student id>/<file name>``, keeping its modification
    time; a second file of the same name is kept as ``<name> (2).ipynb``, never overwritten.
    A Moodle folder name is kept (``into/<Full Name_12345_assignsubmission_file_>/``) so that
    grading the copy finds the same ids and names."""
    copied = []
    for hand in discover(sources, None, system):
        moodle = next((p for p in hand.path.parts[:-1] if lms.MOODLE.match(p)), None)
        dest = _free(into / (moodle or hand.student) / hand.path.name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(hand.path, dest)
        copied.append(dest)
    print(f"collected {len(copied)} notebooks into {into}")
    return copied


def _error(hand: HandIn, why: str) -> dict[str, Any]:
    return {"student": hand.student, "name": hand.name, "path": str(hand.path), "lesson": "",
            "questions": [], "error": why, "seconds": 0.0}


def identify(hand: HandIn, lessons: dict[str, Path]) -> tuple[str | None, str]:
    """``(lesson stem, "")`` of a hand-in, or ``(None, why not)``."""
    try:
        nb = json.loads(hand.path.read_text(encoding="utf-8"))
        if not isinstance(nb, dict):
            raise ValueError("not a notebook")
    except (OSError, ValueError) as exc:
        return None, f"cannot read the notebook: {exc}"
    stem, why = grading.recognise(nb, lessons)
    return (stem, "") if stem else (None, why)


def grade_file(student: str, path: Path, timeout: float = 60.0, *,
               stem: str | None = None, secret: bytes | None = None,
               show_hidden_inputs: bool = False, unsafe: bool = False) -> dict[str, Any]:
    """Grade one submission file; never raises for a broken file. ``stem``: its lesson when
    already recognised (:func:`identify`); ``timeout``: seconds per exercise."""
    lessons = lesson_index()
    hand = HandIn(student, path)
    if stem is None:
        stem, why = identify(hand, lessons)
        if stem is None:
            return _error(hand, why)
    nb = json.loads(path.read_text(encoding="utf-8"))
    lesson = grading.load_lesson(lessons[stem])
    return grading.grade_notebook(nb, lesson, student, str(path), timeout, secret=secret,
                                  show_hidden_inputs=show_hidden_inputs,
                                  unsafe=unsafe).to_dict()


SECRET_ENV = "TRAINLAB_GRADING_SECRET"
PUBLIC_CASES = ("warning: no grading secret (--secret-file or $TRAINLAB_GRADING_SECRET): the "
                "hidden cases are the public ones, drawn from seeds committed in the lessons, so "
                "an answer table computed from them scores full marks")


def read_secret(path: Path | None) -> bytes | None:
    """The lecturer's grading secret (one per term) from ``path`` or $TRAINLAB_GRADING_SECRET;
    None when neither is given. A secret shorter than 16 bytes is refused."""
    secret = path.read_bytes().strip() if path else os.environ.get(SECRET_ENV, "").encode()
    if not secret:
        return None
    if len(secret) < 16:
        raise ValueError(f"the grading secret is {len(secret)} bytes long; use at least 16 "
                         f"(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)")
    return secret


def _when(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def pick_latest(hands: list[tuple[HandIn, str]]) -> tuple[list[tuple[HandIn, str]],
                                                           list[dict[str, str]]]:
    """One hand-in per student and lesson, the latest (Canvas's upload id when every copy has
    one, else the submission time, the file name only to break a tie); the others as rows of
    duplicates.csv."""
    groups: dict[tuple[str, str], list[HandIn]] = {}
    for hand, stem in hands:
        groups.setdefault((hand.student, stem), []).append(hand)
    kept, dropped = [], []
    for (sid, stem), group in groups.items():
        by_upload = all(h.upload for h in group)
        group.sort(key=lambda h: (h.upload if by_upload else 0, h.stamp, str(h.path)))
        kept.append((group[-1], stem))
        for h in group[:-1]:
            dropped.append({"student": sid, "lesson": stem, "kept": str(group[-1].path),
                            "kept_submitted": _when(group[-1].stamp),
                            "ignored": str(h.path), "ignored_submitted": _when(h.stamp),
                            "why": "a later upload" if by_upload else "a later file"})
    return kept, dropped


def grade(sources: list[Path], out: Path, workers: int = 2, timeout: float = 60.0,
          ids: dict[str, Any] | None = None, system: str | None = None,
          secret: bytes | None = None, show_hidden_inputs: bool = False,
          unsafe: bool = False) -> list[dict[str, Any]]:
    """Grade every hand-in; write results.json, marks.csv, the LMS files, duplicates.csv and
    one feedback page per graded notebook into ``out``. ``timeout``: seconds per exercise.
    Raises :class:`grading.IsolationUnavailable` (before grading anything) when the operating
    system's sandbox cannot run here, unless ``unsafe``."""
    why_unsafe = grading.isolation.problem()
    if why_unsafe and not unsafe:
        raise grading.IsolationUnavailable(why_unsafe)
    if why_unsafe:
        print(f"warning: grading WITHOUT the operating system's sandbox (--unsafe): {why_unsafe}",
              file=sys.stderr)
    if secret is None:
        print(PUBLIC_CASES, file=sys.stderr)
    if ids and not isinstance(next(iter(ids.values())), dict):
        ids = {k: {"student": v} for k, v in ids.items()}
    hands = discover(sources, ids, system)
    lessons = lesson_index()
    out.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    known = []
    for hand in hands:
        stem, why = identify(hand, lessons)
        if stem is None:
            results.append(_error(hand, why))
        else:
            known.append((hand, stem))
    todo, dropped = pick_latest(known)
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(grade_file, h.student, h.path, timeout, stem=stem,
                               secret=secret, show_hidden_inputs=show_hidden_inputs,
                               unsafe=bool(why_unsafe) and unsafe)
                   for h, stem in todo]
        for (hand, _), fut in zip(todo, futures, strict=True):
            try:
                result = fut.result()
            except Exception as exc:  # noqa: BLE001 - one bad file never stops the class
                result = _error(hand, f"grader error: {exc}")
            result.update(name=hand.name, submitted=_when(hand.stamp), late=hand.late)
            results.append(result)
    results.sort(key=lambda r: (r["student"], r["lesson"], r["path"]))
    (out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    write_duplicates(dropped, out)
    export(results, out)
    feedback(results, out)
    return results


def write_duplicates(dropped: list[dict[str, str]], out: Path) -> Path:
    path = out / "duplicates.csv"
    fields = ["student", "lesson", "kept", "kept_submitted", "ignored", "ignored_submitted",
              "why"]
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.DictWriter(fh, fields)
        writer.writeheader()
        writer.writerows(dropped)
    for row in dropped:
        print(f"duplicate: {row['student']} {row['lesson']}: graded {Path(row['kept']).name} "
              f"({row['kept_submitted']}), ignored {Path(row['ignored']).name} "
              f"({row['ignored_submitted']})")
    return path


def _score(result: dict[str, Any]) -> tuple[float, float]:
    """(score, max) of the automatically graded questions; written answers are the lecturer's."""
    qs = [q for q in result["questions"] if not q.get("manual")]
    return (round(sum(p["score"] for q in qs for p in q["parts"]), 2),
            sum(q["points"] for q in qs))


def _got(q: dict[str, Any]) -> float | str:
    """A question's score, or "" for one graded by hand (``"manual": true``)."""
    return "" if q.get("manual") else round(sum(p["score"] for p in q["parts"]), 2)


def _qkey(qid: str) -> tuple[str, int, str]:
    m = re.match(r"(.*?)(\d+)(\D*)$", qid)
    return (m[1], int(m[2]), m[3]) if m else (qid, 0, "")


def export(results: list[dict[str, Any]], out: Path) -> Path:
    """``out/marks.csv`` (UTF-8 with BOM, for Excel): a first row with every column's maximum,
    then one row per student: one column per question (empty for one graded by hand), each
    lesson's total of the automatic questions, the total and the errors; also the Canvas
    gradebook ``canvas.csv`` and one Moodle grading worksheet per lesson."""
    per_lesson: dict[str, dict[str, float]] = {}
    for r in results:
        for q in r["questions"]:
            per_lesson.setdefault(r["lesson"], {})[q["qid"]] = (q["points"], bool(q.get("manual")))
    columns: list[str] = []
    maxima: dict[str, Any] = {"student": MAX_ROW}
    for stem in sorted(per_lesson):
        qs = per_lesson[stem]
        for qid in sorted(qs, key=_qkey):
            columns.append(qid)
            maxima[qid] = f"{qs[qid][0]:g}"
        columns.append(f"{stem} total")
        maxima[f"{stem} total"] = f"{sum(p for p, manual in qs.values() if not manual):g}"
    maxima["total"] = f"{sum(float(maxima[c]) for c in columns if c.endswith(' total')):g}"
    rows: dict[str, dict[str, Any]] = {}
    for r in results:
        row = rows.setdefault(r["student"], {"student": r["student"], "name": r.get("name", "")})
        for q in r["questions"]:
            row[q["qid"]] = _got(q)
        if r["lesson"]:
            row[f"{r['lesson']} total"] = round(sum(p["score"] for q in r["questions"]
                                                    if not q.get("manual") for p in q["parts"]), 2)
        if r.get("error"):
            row["errors"] = "; ".join(filter(None, [row.get("errors"),
                                                    f"{Path(r['path']).name}: {r['error']}"]))
    path = out / "marks.csv"
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.DictWriter(fh, ["student", "name", *columns, "total", "errors"])
        writer.writeheader()
        writer.writerow(maxima)
        for sid in sorted(rows):
            row = rows[sid]
            row["total"] = round(sum(row.get(c, 0) for c in columns if c.endswith(" total")), 2)
            writer.writerow(row)
    if any(sid.isdigit() for sid in rows):
        _, left_out = lms.write_canvas(results, out / "canvas.csv")
        lms.write_moodle(results, out)
        if left_out:
            print(f"canvas.csv and moodle_*.csv leave out {len(left_out)} student(s) without a "
                  f"numeric LMS id: {', '.join(left_out[:5])}", file=sys.stderr)
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
        if q.get("manual"):
            lines.append(f"<h2>{esc(q['qid'])} {esc(q['title'])}: written answer, marked by "
                         f"your lecturer (/ {q['points']:g})</h2>")
            lines.append(f"<blockquote style='white-space:pre-wrap'>{esc(q['answer'])}</blockquote>"
                         if q.get("answer") else f"<p class='missing'>{esc(q.get('note', ''))}</p>")
            continue
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
    """One HTML page per submission in ``out/feedback/<student>__<lesson>.html`` (``-2``,
    ``-3``, ... added when two results would share a name)."""
    folder = out / "feedback"
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for r in results:
        base = f"{_safe_id(r['student'])}__{r['lesson'] or _safe_id(Path(r['path']).stem)}"
        path, n = folder / f"{base}.html", 1
        while path in written:  # never one page over another: name-2.html, name-3.html, ...
            n += 1
            path = folder / f"{base}-{n}.html"
        path.write_text(feedback_html(r), encoding="utf-8")
        written.append(path)
    return written


def report(result: dict[str, Any]) -> str:
    score, best = _score(result)
    lines = [f"{result['student']}  {result['lesson']}  {score:g}/{best:g}"
             + (f"  ERROR {result['error']}" if result.get("error") else "")]
    for q in result["questions"]:
        if q.get("manual"):
            words = len(q.get("answer", "").split())
            lines.append(f"  {q['qid']:<8} written: {words} words, to mark /{q['points']:g}")
            continue
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


def _read_ids(path: Path | None) -> dict[str, dict[str, str]] | None:
    """The ids table: columns ``file`` and ``student``, optional ``name`` and ``submitted``
    (ISO date and time, which decides between two hand-ins of one student)."""
    if path is None:
        return None
    with path.open(encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = {"file", "student"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: the ids table needs the columns file and student "
                             f"(it lacks {', '.join(sorted(missing))})")
        return {row["file"]: row for row in reader}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("release", help="write the student notebooks into notebooks/student/")
    sub.add_parser("build", help="same as release")
    sub.add_parser("check", help="exit 1 when notebooks/student/ is out of date")
    sub.add_parser("giveaways", help="exit 1 when an exercise's answer stands in an earlier cell")
    lms_help = ("read student ids from this LMS's export names, 'any' for Moodle's or "
                "Canvas's (Moodle's are always read; with this option a file name that is not "
                "one is an error)")
    c = sub.add_parser("collect", help="copy submissions into one folder, one id each")
    c.add_argument("sources", nargs="+", type=Path)
    c.add_argument("--into", type=Path, required=True)
    c.add_argument("--lms", choices=lms.SYSTEMS, help=lms_help)
    g = sub.add_parser("grade", help="grade a folder (or files) of submissions")
    g.add_argument("sources", nargs="+", type=Path)
    g.add_argument("--out", type=Path, default=ROOT / "homework" / "graded")
    g.add_argument("--workers", type=int, default=2)
    g.add_argument("--timeout", type=float, default=60.0, help="seconds per exercise")
    g.add_argument("--ids", type=Path,
                   help="CSV with columns file,student (optional: name, submitted)")
    g.add_argument("--lms", choices=lms.SYSTEMS, help=lms_help)
    g.add_argument("--secret-file", type=Path,
                   help=f"the term's grading secret (else ${SECRET_ENV}): hidden cases are "
                        "drawn from it instead of the seeds committed in the lessons")
    g.add_argument("--show-hidden-inputs", action="store_true",
                   help="with a secret, show a failing hidden case's message (and inputs)")
    g.add_argument("--unsafe", action="store_true",
                   help="grade even where the operating system's sandbox (bubblewrap) cannot "
                        "run: learners' code then runs as your user, guarded only by the audit")
    for name in ("export", "feedback"):
        e = sub.add_parser(name, help=f"{name} again from OUT/results.json")
        e.add_argument("--out", type=Path, default=ROOT / "homework" / "graded")
    args = parser.parse_args(argv)
    if args.cmd in ("release", "build"):
        release()
        return 0
    if args.cmd == "check":
        return check()
    if args.cmd == "giveaways":
        problems = [p for path in graded_lessons() for p in giveaways(path)]
        print("\n".join(problems) or "giveaways: no exercise's answer stands in an earlier cell")
        return 1 if problems else 0
    if args.cmd in ("collect", "grade"):
        missing = [s for s in args.sources if not s.exists()]
        if missing:
            parser.error(f"no such file or folder: {', '.join(map(str, missing))}")
        if args.cmd == "grade" and args.timeout <= 0:
            parser.error(f"--timeout must be > 0 seconds per exercise, not {args.timeout}")
        try:
            if args.cmd == "collect":
                collect(args.sources, args.into, args.lms)
                return 0
            secret = read_secret(args.secret_file)
            results = grade(args.sources, args.out, args.workers, args.timeout,
                            _read_ids(args.ids), args.lms, secret, args.show_hidden_inputs,
                            args.unsafe)
        except grading.IsolationUnavailable as exc:
            print(f"refusing to grade: the sandbox that runs learners' code cannot start here: "
                  f"{exc}.\nInstall bubblewrap (apt-get install -y bubblewrap), or pass "
                  f"--unsafe (make grade UNSAFE=1) to grade without it.", file=sys.stderr)
            return 2
        except (OSError, ValueError) as exc:
            parser.error(str(exc))
        for r in results:
            print(report(r))
        print(f"marks: {args.out / 'marks.csv'}; feedback: {args.out / 'feedback'}/; "
              f"duplicates: {args.out / 'duplicates.csv'}")
        return 0
    results = json.loads((args.out / "results.json").read_text(encoding="utf-8"))
    if args.cmd == "export":
        print(export(results, args.out))
    else:
        print(f"{len(feedback(results, args.out))} pages in {args.out / 'feedback'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
