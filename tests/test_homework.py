"""Homework built with nbgrader: student versions run, untouched ones score zero, the
solutions score full marks, and typical wrong answers are caught with a helpful message."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import homework  # noqa: E402

LESSONS = homework.graded_lessons()
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("course")
    homework.build(course, LESSONS)
    return course


def _release(course: Path, lesson: Path) -> Path:
    return course / "release" / lesson.stem / lesson.name


def test_every_lesson_after_the_welcome_has_graded_exercises():
    names = {p.name for p in LESSONS}
    lessons = {p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert lessons - names == {"00_welcome.ipynb"}


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_student_version_hides_solutions_and_hidden_checks(course, lesson):
    source = nbformat.read(lesson, as_version=4)
    student = nbformat.read(_release(course, lesson), as_version=4)
    text = "\n".join(c.source for c in student.cells)
    assert "### BEGIN SOLUTION" not in text and "### END SOLUTION" not in text
    assert "### BEGIN HIDDEN TESTS" not in text
    n_solutions = sum(1 for c in source.cells if c.metadata.get("nbgrader", {}).get("solution"))
    assert n_solutions >= 3
    assert text.count("raise NotImplementedError()") >= n_solutions
    assert all(not c.get("outputs") for c in student.cells if c.cell_type == "code")
    visible = [c for c in student.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert visible and all("checks." in c.source for c in visible)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_untouched_student_notebook_runs_and_scores_zero(course, lesson):
    rows = homework.grade(_release(course, lesson), "untouched", course)
    assert rows and all(r.score == 0 for r in rows), homework.report(rows)
    assert all("NotAttemptedError" in r.feedback for r in rows), homework.report(rows)
    graded = nbformat.read(course / "autograded" / "untouched" / lesson.stem / lesson.name, 4)
    for cell in graded.cells:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            assert cell.metadata.get("nbgrader", {}).get("grade"), \
                f"a non-exercise cell failed in the student version:\n{cell.source[:400]}"
            assert errors[0]["ename"] == "NotAttemptedError", errors[0]["evalue"]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_committed_solutions_score_full_marks(course, lesson):
    # The stored outputs are graded; `pytest --nbval` proves a fresh run reproduces them.
    rows = homework.grade(lesson, "solutions", course, execute=False)
    assert rows and all(r.score == r.max_score > 0 for r in rows), homework.report(rows)


def test_grading_stored_outputs_sees_a_failed_check(course, tmp_path):
    lesson = LESSONS[0]
    nb = nbformat.read(lesson, as_version=4)
    check = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))
    check.outputs = [nbformat.v4.new_output("error", ename="ExerciseError",
                                            evalue="wrong", traceback=[])]
    broken = tmp_path / lesson.name
    nbformat.write(nb, broken)
    rows = homework.grade(broken, "broken", course, execute=False)
    by_id = {r.grade_id: r for r in rows}
    assert by_id[check.metadata["nbgrader"]["grade_id"]].score == 0
    assert sum(r.score for r in rows) == sum(r.max_score for r in rows) - \
        check.metadata["nbgrader"]["points"]


WRONG_ANSWERS = [
    ("06_dropout.ipynb", "06-ex1", "return x * mask / keep_prob", "return x * mask",
     "keep_prob"),
    ("04_batchnorm.ipynb", "04-ex2", "(dout - dbeta / len(x) - x_hat * dgamma / len(x))",
     "(dout - x_hat * dgamma / len(x))", "mean term"),
]


@pytest.mark.parametrize("name, exercise, right, wrong, hint", WRONG_ANSWERS,
                         ids=[w[1] for w in WRONG_ANSWERS])
def test_a_typical_wrong_answer_is_caught_with_a_hint(course, tmp_path, name, exercise, right,
                                                      wrong, hint):
    lesson = ROOT / "notebooks" / name
    nb = nbformat.read(lesson, as_version=4)
    cell = next(c for c in nb.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == f"{exercise}-solution")
    assert right in cell.source, "the lesson's solution changed: update this test"
    cell.source = cell.source.replace(right, wrong)
    student = tmp_path / name
    nbformat.write(nb, student)
    rows = {r.grade_id: r for r in homework.grade(student, f"wrong-{exercise}", course)}
    assert rows[f"{exercise}-check"].score == 0, homework.report(list(rows.values()))
    assert hint in rows[f"{exercise}-check"].feedback, rows[f"{exercise}-check"].feedback
    others = [r for gid, r in rows.items() if gid != f"{exercise}-check"]
    assert all(r.score == r.max_score for r in others), homework.report(list(rows.values()))
