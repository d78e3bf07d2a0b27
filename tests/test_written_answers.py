"""Written answers (nbgrader's "manually graded answer" cells) and the giveaway check: a lesson
gains a written question, its student version asks for the answer, the grader carries the
student's text to the feedback and leaves the mark to the lecturer; an answer copied into an
earlier cell of its lesson is found."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import homework  # noqa: E402
from trainlab.checks import grading  # noqa: E402

STEM = "06_dropout"


def _written_lesson(tmp_path: Path) -> Path:
    """A copy of a lesson with a written question (prompt, model answer, rubric) appended."""
    nb = nbformat.read(ROOT / "notebooks" / f"{STEM}.ipynb", as_version=4)
    nb.cells += [
        nbformat.v4.new_markdown_cell("**Exercise 9 (2 points).** Why does dropout help less "
                                      "when the network is small?"),
        nbformat.v4.new_markdown_cell("Model answer: a small network underfits already.",
                                      metadata={"nbgrader": {
                                          "grade": True, "solution": True, "task": False,
                                          "locked": False, "points": 2, "schema_version": 3,
                                          "grade_id": "06-ex9-written"}}),
        nbformat.v4.new_markdown_cell("Rubric: 1 point for underfitting, 1 for capacity.",
                                      metadata={"trainlab": "rubric"}),
    ]
    path = tmp_path / f"{STEM}.ipynb"
    nbformat.write(nb, path)
    return path


def test_written_question_is_a_manual_question_worth_its_points(tmp_path):
    lesson = grading.load_lesson(_written_lesson(tmp_path))
    q = next(q for q in lesson.questions if q.qid == "06-ex9-written")
    assert q.manual and q.points == 2 and q.parts == [] and "Exercise 9" in q.title


def test_student_version_asks_for_the_answer_and_hides_model_answer_and_rubric(tmp_path):
    path = _written_lesson(tmp_path)
    text = nbformat.writes(homework.student_version(path, {STEM}))
    assert "Model answer" not in text and "Rubric:" not in text
    nb = nbformat.reads(text, as_version=4)
    cell = next(c for c in nb.cells if grading.is_written(c))
    assert cell.source == grading.WRITTEN_STUB
    notes = homework.lecturer_notes([path])
    assert "06-ex9-written (2 points)" in notes and "Rubric: 1 point" in notes
    assert "Model answer: a small" in notes and "Why does dropout help less" in notes


def test_a_written_question_without_a_rubric_is_an_error(tmp_path):
    path = _written_lesson(tmp_path)
    nb = nbformat.read(path, as_version=4)
    nb.cells.pop()
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match="06-ex9-written has no rubric"):
        homework.lecturer_notes([path])


@pytest.mark.parametrize("answer, words", [("Because it underfits: too few units.", 6),
                                           (grading.WRITTEN_STUB, 0)])
def test_grader_carries_the_text_to_feedback_and_leaves_the_mark_blank(tmp_path, answer, words):
    path = _written_lesson(tmp_path)
    lesson = grading.load_lesson(path)
    nb = json.loads(nbformat.writes(homework.student_version(path, {STEM})))
    cell = next(c for c in nb["cells"] if grading.is_written(c)
                and c["metadata"]["nbgrader"]["grade_id"] == "06-ex9-written")
    cell["source"] = answer
    sub = grading.grade_notebook(nb, lesson, "ada", "ada.ipynb", 30).to_dict()
    q = next(q for q in sub["questions"] if q["qid"] == "06-ex9-written")
    assert q["manual"] and len(q["answer"].split()) == words
    assert (q["note"] == "") == bool(words)
    html = homework.feedback_html(sub)
    assert "marked by your lecturer" in html
    assert ("underfits" in html) == bool(words)
    assert f"written: {words} words, to mark /2" in homework.report(sub)
    auto = sum(x["points"] for x in sub["questions"] if not x["manual"])
    assert homework._score(sub)[1] == auto
    out = tmp_path / "out"
    out.mkdir()
    with homework.export([sub], out).open(encoding="utf-8-sig") as fh:
        maxima, row = list(csv.DictReader(fh))
    assert maxima["student"] == homework.MAX_ROW and maxima["06-ex9-written"] == "2"
    assert row["06-ex9-written"] == ""


def test_giveaways_finds_an_answer_copied_into_an_earlier_cell_even_renamed(tmp_path):
    src = ROOT / "notebooks" / "04_batchnorm.ipynb"
    path = tmp_path / src.name
    shutil.copy(src, path)
    assert homework.giveaways(path) == []
    nb = nbformat.read(path, as_version=4)
    sol = next(c for c in nb.cells
               if c.metadata.get("nbgrader", {}).get("grade_id") == "04-ex5-solution")
    answer = homework._answer_expressions(homework._solution_code(sol.source))[0]
    copied = homework._Rename().visit(answer)          # the same code, other variable names
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells[first].source += f"\n_ = {__import__('ast').unparse(copied)}"
    nbformat.write(nb, path)
    found = homework.giveaways(path)
    # the eval-mode formula also answers the exercises that share it (ex1, ex6)
    assert any("04-ex5-solution" in f for f in found)
    assert found and all(f.endswith(f"cell {first}") for f in found)
