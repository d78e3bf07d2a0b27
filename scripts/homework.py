"""Homework from the lessons, with nbgrader: student versions and an autograder.

    python scripts/homework.py build              # student notebooks -> homework/release/
    python scripts/homework.py grade NOTEBOOK [--student ID]
                                                  # score a student's notebook

The committed lessons are the single source: their "check yourself" exercises use nbgrader's
markup (``### BEGIN SOLUTION`` / ``### END SOLUTION`` in solution cells, graded check cells with
``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS``). ``build`` runs nbgrader's
``generate_assignment`` on every lesson that has graded cells: solutions become a stub that
raises ``NotImplementedError``, hidden checks are held back, outputs are cleared.
``grade`` runs nbgrader's ``autograde`` (the check cells, hidden checks included, are restored
from the gradebook, so a learner cannot weaken them) and prints points and feedback per
question. Everything is written under the git-ignored ``homework/`` folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
LESSONS = ROOT / "notebooks"
COURSE = ROOT / "homework"
# nbgrader calls the `alembic` command of its environment: make sure it is on PATH.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
warnings.filterwarnings("ignore", module="nbgrader")
warnings.filterwarnings("ignore", message=".*not in session.*")
STUB = ("# YOUR CODE HERE: replace this line with your implementation (see the docstring).\n"
        "raise NotImplementedError()")


@dataclass
class QuestionResult:
    grade_id: str
    score: float
    max_score: float
    feedback: str


def graded_lessons() -> list[Path]:
    """Lessons that contain at least one nbgrader graded cell."""
    found = []
    for path in sorted(LESSONS.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if any(c.metadata.get("nbgrader", {}).get("grade") for c in nb.cells):
            found.append(path)
    return found


def _api(course: Path, execute: bool = True):
    from nbgrader.apps import NbGraderAPI
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        DeduplicateIds,
        IgnorePattern,
        LimitOutput,
        OverwriteCells,
        OverwriteKernelspec,
        SaveAutoGrades,
    )
    from traitlets.config import Config

    config = Config()
    if not execute:
        # Grade the outputs stored in the notebook instead of running it again: used for the
        # committed lessons, whose stored outputs `pytest --nbval` proves a fresh run gives.
        config.Autograde.sanitize_preprocessors = [
            IgnorePattern, OverwriteKernelspec, OverwriteCells, CheckCellMetadata]
        config.Autograde.autograde_preprocessors = [
            LimitOutput, DeduplicateIds, OverwriteCells, CheckCellMetadata, SaveAutoGrades]
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.course_id = "trainlab"
    config.ClearSolutions.code_stub = {"python": STUB}
    config.ExecutePreprocessor.timeout = 300
    config.Execute.timeout = 300
    config.ClearMetadataPreprocessor.enabled = False
    return NbGraderAPI(config=config)


def build(course: Path = COURSE, lessons: list[Path] | None = None) -> list[Path]:
    """Generate the student version of each graded lesson; return their paths."""
    lessons = graded_lessons() if lessons is None else lessons
    if not lessons:
        raise SystemExit("no lesson has graded exercises")
    course.mkdir(exist_ok=True)
    api = _api(course)
    released = []
    for path in lessons:
        name = path.stem
        src = course / "source" / name
        src.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, src / path.name)
        result = api.generate_assignment(name, force=True, create=True)
        if not result["success"]:
            raise SystemExit(f"nbgrader could not generate {name}:\n{result['log']}\n"
                             f"{result.get('error', '')}")
        out = course / "release" / name / path.name
        released.append(out)
        print(f"student version: {out}")
    return released


def _feedback(nb: nbformat.NotebookNode, grade_id: str) -> str:
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") != grade_id:
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return f"{out['ename']}: {out['evalue']}"
        return "passed"
    return "cell missing"


def grade(notebook: Path, student: str = "student", course: Path = COURSE,
          execute: bool = True) -> list[QuestionResult]:
    """Autograde ``notebook`` (a learner's copy of one lesson) and return per-question results.

    With ``execute=False`` the stored outputs are graded without running the notebook."""
    from nbgrader.api import Gradebook

    name = notebook.stem
    if not (course / "source" / name).is_dir():
        lesson = LESSONS / notebook.name
        if not lesson.exists():
            raise SystemExit(f"{notebook.name} is not a lesson of this course")
        build(course, [lesson])
    target = course / "submitted" / student / name
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(notebook, target / notebook.name)
    result = _api(course, execute).autograde(name, student, force=True, create=True)
    if not result["success"]:
        raise SystemExit(f"nbgrader could not grade {notebook}:\n{result['log']}\n"
                         f"{result.get('error', '')}")
    graded = nbformat.read(course / "autograded" / student / name / notebook.name, as_version=4)
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission_notebook(name, name, student)
        rows = [QuestionResult(g.name, float(g.score or 0.0), float(g.max_score),
                               _feedback(graded, g.name))
                for g in sorted(sub.grades, key=lambda g: g.name)]
    return rows


def report(rows: list[QuestionResult]) -> str:
    width = max(len(r.grade_id) for r in rows)
    lines = [f"{'question':<{width}}  points  feedback"]
    for r in rows:
        lines.append(f"{r.grade_id:<{width}}  {r.score:g}/{r.max_score:g}"
                     f"{'':<{max(0, 6 - len(f'{r.score:g}/{r.max_score:g}'))}}  {r.feedback}")
    total, best = sum(r.score for r in rows), sum(r.max_score for r in rows)
    lines.append(f"{'total':<{width}}  {total:g}/{best:g}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="generate student notebooks into homework/release/")
    g = sub.add_parser("grade", help="score a student's notebook")
    g.add_argument("notebook", type=Path)
    g.add_argument("--student", default="student")
    g.add_argument("--json", action="store_true", help="print the results as JSON")
    g.add_argument("--no-execute", action="store_true",
                   help="grade the stored outputs instead of running the notebook")
    args = parser.parse_args(argv)
    if args.cmd == "build":
        build()
        return 0
    if not args.notebook.exists():
        parser.error(f"no such notebook: {args.notebook}")
    rows = grade(args.notebook, args.student, execute=not args.no_execute)
    print(json.dumps([r.__dict__ for r in rows], indent=1) if args.json else report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
