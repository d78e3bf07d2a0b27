"""The homework workflow end to end: committed student notebooks, and a class folder of honest,
reference-calling, patching, stub, slip and hostile submissions graded in parallel."""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import homework  # noqa: E402
from trainlab.checks import grading  # noqa: E402

LESSONS = homework.graded_lessons()
STUDENT = ROOT / "notebooks" / "student"


def _solution(nb: nbformat.NotebookNode, gid: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def _student(stem: str) -> nbformat.NotebookNode:
    return nbformat.read(STUDENT / f"{stem}.ipynb", as_version=4)


def _lesson(stem: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)


def _with(stem: str, replacements: dict[str, str], base: str = "lesson") -> nbformat.NotebookNode:
    """The lesson (all solutions) or the student version with some solution cells replaced."""
    nb = _lesson(stem) if base == "lesson" else _student(stem)
    for gid, source in replacements.items():
        _solution(nb, gid).source = source
    return nb


def _grade(nb: nbformat.NotebookNode, timeout: float = 30.0) -> grading.Submission:
    data = json.loads(nbformat.writes(nb))
    lessons = homework.lesson_index()
    lesson = grading.load_lesson(lessons[grading.lesson_of(data, lessons)])
    return grading.grade_notebook(data, lesson, "t", "t.ipynb", timeout)


def _by_q(sub: grading.Submission) -> dict[str, grading.Question]:
    return {q.qid: q for q in sub.questions}


# --------------------------------------------------------------------------------------------
# Student notebooks
# --------------------------------------------------------------------------------------------
def test_student_notebooks_are_committed_and_up_to_date():
    assert homework.check() == 0
    assert {p.name for p in STUDENT.glob("*.ipynb")} == {p.name for p in LESSONS}


def test_every_lesson_after_the_welcome_has_graded_exercises_and_a_capstone():
    names = {p.name for p in LESSONS}
    lessons = {p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert lessons - names == {"00_welcome.ipynb"}
    assert "08_capstone.ipynb" in names


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_student_version_is_clean_and_opens_itself(lesson):
    source, student = _lesson(lesson.stem), _student(lesson.stem)
    text = "\n".join(c.source for c in student.cells)
    assert "### BEGIN SOLUTION" not in text and "### BEGIN HIDDEN TESTS" not in text
    n_solutions = sum(1 for c in source.cells if c.cell_type == "code"   # written: markdown
                      and c.metadata.get("nbgrader", {}).get("solution"))
    graded = [q for q in grading.load_lesson(lesson).questions if not q.manual]
    assert n_solutions == len(graded) >= 2     # 05: two exercises (ex1 is three layers)
    assert text.count("raise NotImplementedError(") >= n_solutions
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in student.cells if c.cell_type == "code")
    assert "widgets" not in student.metadata
    assert student.metadata["trainlab_homework"]["lesson"] == lesson.stem
    header = student.cells[0]
    assert f"/blob/main/notebooks/student/{lesson.name})" in header.source
    assert f"/main?labpath=notebooks%2Fstudent%2F{lesson.name})" in header.source  # Binder
    assert "Student version" in header.source
    assert "holds the solutions" not in text and "*Student version:*" in text
    assert f"/blob/main/notebooks/{lesson.name})" in source.cells[0].source


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_solution_lessons_say_they_hold_solutions(lesson):
    text = "\n".join(c.source for c in _lesson(lesson.stem).cells if c.cell_type == "markdown")
    assert "holds the solutions" in text


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_committed_solutions_score_full_marks_and_stubs_zero(lesson):
    # the capstone trains its network for three seeds (about 15 s of one core): a generous
    # deadline, so that a loaded test machine does not fail a correct solution
    sub = _grade(_lesson(lesson.stem), timeout=240.0 if lesson.stem == "08_capstone" else 30.0)
    assert sub.score == pytest.approx(sub.max_score) and sub.max_score > 0, \
        [(q.qid, p.message) for q in sub.questions for p in q.parts if p.status != "passed"]
    stub = _grade(_student(lesson.stem))
    assert stub.score == 0
    assert all(p.status == "not attempted" for q in stub.questions for p in q.parts)


def test_lesson_is_recognised_without_metadata_from_the_cells():
    nb = json.loads(nbformat.writes(_student("06_dropout")))
    del nb["metadata"]["trainlab_homework"]
    lessons = homework.lesson_index()
    assert grading.lesson_of(nb, lessons) == "06_dropout"
    assert grading.lesson_of({"cells": [], "metadata": {}}, lessons) is None


def test_a_notebook_pasted_into_a_new_file_is_recognised_by_its_functions():
    nb = json.loads(nbformat.writes(_lesson("06_dropout")))
    nb["metadata"].pop("trainlab_homework", None)
    for cell in nb["cells"]:
        cell["metadata"].pop("nbgrader", None)
    lessons = homework.lesson_index()
    assert grading.lesson_of(nb, lessons) == "06_dropout"
    sub = grading.grade_notebook(nb, grading.load_lesson(lessons["06_dropout"]), "t", "t.ipynb")
    assert sub.score == pytest.approx(sub.max_score)


def test_a_solution_cell_that_lost_its_metadata_is_found_by_its_functions():
    nb = _lesson("06_dropout")
    solved = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    for cell in solved:
        del cell.metadata["nbgrader"]
    sub = _grade(nb)
    assert sub.score == pytest.approx(sub.max_score), \
        [(q.qid, p.message) for q in sub.questions for p in q.parts if p.status != "passed"]


def test_a_trainlab_module_imported_by_the_set_up_cell_is_refused_by_name():
    lesson = grading.load_lesson(ROOT / "notebooks" / "06_dropout.ipynb")
    assert "ridge" in lesson.library_names and "dropout" in lesson.library_names
    q = next(q for q in lesson.questions if "expected_loss" in q.functions)
    cheat = ("def expected_loss(X, y, w, keep_prob):\n"
             "    return ridge.expected_dropout_loss(X, y, w, keep_prob)\n")
    sub = _grade(_with("06_dropout", {q.solution_cell: cheat}, base="student"))
    got = _by_q(sub)[q.qid]
    assert got.score == 0 and {p.status for p in got.parts} == {"refused"}
    assert "uses ridge (line 2)" in got.parts[0].message
    honest_local = "def expected_loss(X, y, w, keep_prob):\n    ridge = 1.0\n    return ridge\n"
    assert grading.uses_lesson_library(honest_local, lesson.library_names) is None


def test_a_helper_outside_the_solution_cell_gets_a_name_error_hint():
    lesson = grading.load_lesson(ROOT / "notebooks" / "06_dropout.ipynb")
    q = next(q for q in lesson.questions if "expected_loss" in q.functions)
    cell = "def expected_loss(X, y, w, keep_prob):\n    return my_helper(X)\n"
    got = _by_q(_grade(_with("06_dropout", {q.solution_cell: cell}, base="student")))[q.qid]
    assert got.score == 0
    assert any("define every helper" in p.message for p in got.parts), \
        [p.message for p in got.parts]


def test_a_missing_solution_cell_is_reported_as_missing():
    nb = _lesson("06_dropout")
    gone = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    qid = gone.metadata["nbgrader"]["grade_id"].removesuffix("-solution")
    nb.cells.remove(gone)
    q = _by_q(_grade(nb))[qid]
    assert q.score == 0
    assert {p.status for p in q.parts} == {"missing"}
    assert f"'{qid}-solution'" in q.parts[0].message


# --------------------------------------------------------------------------------------------
# What cannot pass
# --------------------------------------------------------------------------------------------
CALLS_TRAINLAB = '''def expected_loss(X, y, w, keep_prob):
    from trainlab import ridge
    return ridge.expected_dropout_loss(X, y, w, keep_prob)
'''
CALLS_TORCH = '''import torch

def expected_loss(X, y, w, keep_prob):
    return float(torch.sum((torch.from_numpy(y) - keep_prob * torch.from_numpy(X @ w)) ** 2))
'''
REBINDS_CHECKS = '''import trainlab.checks.dropout as c
c.check_expected_loss = lambda *a, **k: None

def expected_loss(X, y, w, keep_prob):
    return 0.0
'''
PATCHES_NUMPY = '''np.allclose = lambda *a, **k: True
np.isclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
np.all = lambda *a, **k: True

def expected_loss(X, y, w, keep_prob):
    return 0.0
'''
READS_FRAMES = '''import sys

def expected_loss(X, y, w, keep_prob):
    return sys._getframe(1).f_locals["expected"]
'''
READS_FRAMES_WITHOUT_SYS = '''def expected_loss(X, y, w, keep_prob):
    try:
        raise ValueError
    except ValueError as e:
        return e.__traceback__.tb_frame.f_back.f_locals["expected"]
'''
EXCEPTHOOK = '''import sys
sys.excepthook = lambda *a: None

def expected_loss(X, y, w, keep_prob):
    return 0.0
'''
PRIVATE_NUMPY = '''def expected_loss(X, y, w, keep_prob):
    np.lib._datasource.os.remove("marks.csv")
    return 0.0
'''
BUILTINS = '''def expected_loss(X, y, w, keep_prob):
    return (lambda: 0).__globals__["__builtins__"]
'''


@pytest.mark.parametrize("source, why", [
    (CALLS_TRAINLAB, "trainlab"), (CALLS_TORCH, "torch"), (REBINDS_CHECKS, "trainlab"),
    (READS_FRAMES, "sys"), (READS_FRAMES_WITHOUT_SYS, "may not use"),
    (EXCEPTHOOK, "sys"), (BUILTINS, "__globals__"), (PRIVATE_NUMPY, "may not use")],
    ids=["trainlab", "torch", "rebind-checks", "frame", "frame-no-sys", "excepthook",
         "dunder", "private-numpy"])
def test_calling_the_library_or_reaching_the_grader_scores_zero_with_a_reason(source, why):
    sub = _grade(_with("06_dropout", {"06-ex3-solution": source}))
    q = _by_q(sub)
    assert q["06-ex3"].score == 0
    assert all(p.status == "refused" and why in p.message for p in q["06-ex3"].parts)
    others = [x for k, x in q.items() if k != "06-ex3" and not x.manual]
    assert all(x.score == pytest.approx(x.points) for x in others)


def test_patching_numpy_changes_nothing_the_checks_compute():
    q = _by_q(_grade(_with("06_dropout", {"06-ex3-solution": PATCHES_NUMPY})))
    assert q["06-ex3"].score == 0
    assert all(p.status == "failed" for p in q["06-ex3"].parts)
    assert q["06-ex1"].score == pytest.approx(q["06-ex1"].points)


def test_runtime_guard_blocks_trainlab_even_past_the_audit():
    sandbox = grading.Sandbox([{"qid": "x", "source": "import trainlab\n"}],
                              deadline=time.monotonic() + 30)
    try:
        assert "not available while grading" in sandbox.errors["x"]
    finally:
        sandbox.close()


def test_removing_the_import_guard_still_finds_no_trainlab_or_torch():
    """Found by a cheating-student run: code that gets past the audit (e.g. through a string
    that typing.get_type_hints evaluates) removed the import hook. The child therefore also
    drops site-packages, so trainlab and torch are not on disk for it at all."""
    cell = ("import sys\n"
            "sys.meta_path[:] = [m for m in sys.meta_path if type(m).__name__ != '_Blocker']\n"
            "found = []\n"
            "for name in ('trainlab', 'torch', 'sklearn'):\n"
            "    try:\n"
            "        __import__(name)\n"
            "        found.append(name)\n"
            "    except ImportError:\n"
            "        pass\n"
            "import numpy.linalg\n"
            "def report():\n"
            "    return ','.join(found) or 'none'\n")
    sandbox = grading.Sandbox([{"qid": "x", "source": cell}], deadline=time.monotonic() + 30)
    try:
        assert sandbox.errors == {}
        assert sandbox.call("report", (), {}) == "none"
    finally:
        sandbox.close()


@pytest.mark.parametrize("cheat", [
    "import typing\nclass V:\n    a: 'int'\n",
    "x = '__import__'\n",
])
def test_code_in_strings_is_refused(cheat):
    assert grading.audit(cheat)[0] == "forbidden"


def test_file_names_that_make_the_same_id_stay_separate_students(tmp_path, capsys):
    """Found by a newcomer run: Müller/Möller and "x (1)"/"x [1]" were merged into one row."""
    for name in ("Müller.ipynb", "Möller.ipynb", "06 (1).ipynb", "06 [1].ipynb"):
        (tmp_path / name).write_text("{}")
    ids = [sid for sid, _ in homework.find_submissions([tmp_path])]
    assert len(set(ids)) == 4
    assert {"Müller", "Möller"} <= set(ids)
    assert "06_1-2" in ids and "would be '06_1'" in capsys.readouterr().err


def test_a_slip_gets_its_hint_and_partial_credit_per_part():
    slip = '''def expected_loss(X, y, w, keep_prob):
    return float(np.sum((y - X @ w) ** 2) + (1 - keep_prob) * np.sum(w ** 2))
'''
    q = _by_q(_grade(_with("06_dropout", {"06-ex3-solution": slip})))["06-ex3"]
    assert q.score == 0 and all("keep_prob" in p.message for p in q.parts)
    only_2d = '''def expected_loss(X, y, w, keep_prob):
    q, g2 = keep_prob, np.sum(X ** 2, axis=0)
    right = np.sum((y - q * X @ w) ** 2) + q * (1 - q) * np.sum(g2 * w ** 2)
    return float(right if X.shape[1] == 4 else 0.0)
'''
    q = _by_q(_grade(_with("06_dropout", {"06-ex3-solution": only_2d})))["06-ex3"]
    assert [p.status for p in q.parts] == ["passed", "failed", "failed"]
    assert q.score == pytest.approx(q.points / 3)
    assert all(p.message for p in q.parts if p.status == "failed")


def test_stored_outputs_are_never_graded():
    nb = _student("06_dropout")
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                                   text="✓ Exercise: all checks passed\n")]
    assert _grade(nb).score == 0
    assert not hasattr(homework, "execute") and "--no-execute" not in homework.__doc__


# --------------------------------------------------------------------------------------------
# The class workflow
# --------------------------------------------------------------------------------------------
HOSTILE_LOOP = '''def dropout_backward(dout, cache):
    return dout

while True:
    pass
'''
HUGE_OUTPUT = '''def expected_loss(X, y, w, keep_prob):
    for _ in range(200):
        print("x" * 1_000_000)
    q, g2 = keep_prob, np.sum(X ** 2, axis=0)
    return float(np.sum((y - q * X @ w) ** 2) + q * (1 - q) * np.sum(g2 * w ** 2))
'''
DELETES = '''import shutil
shutil.rmtree("/")
'''


def _write(nb: nbformat.NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.mark.slow
def test_grade_a_class_folder_end_to_end(tmp_path):
    inbox = tmp_path / "inbox"
    _write(_lesson("06_dropout"), inbox / "alice" / "Copy of 06_dropout.ipynb")
    _write(_lesson("03_initialisation"), inbox / "alice" / "homework3 (1).ipynb")
    _write(_with("06_dropout", {"06-ex3-solution": CALLS_TRAINLAB}), inbox / "bob" / "x.ipynb")
    _write(_with("06_dropout", {"06-ex3-solution": PATCHES_NUMPY}), inbox / "carol" / "a.ipynb")
    _write(_student("06_dropout"), inbox / "dave" / "06_dropout.ipynb")
    _write(_with("06_dropout", {"06-ex2-solution": HOSTILE_LOOP}), inbox / "eve" / "loop.ipynb")
    _write(_with("06_dropout", {"06-ex3-solution": HUGE_OUTPUT}), inbox / "frank" / "b.ipynb")
    _write(_with("06_dropout", {"06-ex3-solution": DELETES}), inbox / "grace" / "c.ipynb")
    (inbox / "heidi").mkdir()
    (inbox / "heidi" / "broken.ipynb").write_text("{not json", encoding="utf-8")
    assert homework.main(["collect", str(inbox), "--into", str(tmp_path / "class")]) == 0
    keep = tmp_path / "keep.txt"
    keep.write_text("untouched", encoding="utf-8")
    out = tmp_path / "graded"
    # 45 s per exercise: 06 ex5 trains the network 8 times (about 1.6 s of CPU), which took
    # over 15 s of wall time with two graders on a loaded machine; eve's loop costs 45 s
    assert homework.main(["grade", str(tmp_path / "class"), "--out", str(out), "--workers", "2",
                          "--timeout", "45"]) == 0
    assert keep.read_text(encoding="utf-8") == "untouched"
    with (out / "marks.csv").open(encoding="utf-8-sig") as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}
    full = sum(q.points for q in grading.load_lesson(ROOT / "notebooks" / "06_dropout.ipynb")
               .questions if not q.manual)
    assert float(rows.pop(homework.MAX_ROW)["06_dropout total"]) == full == 13
    assert set(rows) == {"alice", "bob", "carol", "dave", "eve", "frank", "grace", "heidi"}
    assert float(rows["alice"]["06_dropout total"]) == full
    assert float(rows["alice"]["06-ex3"]) == 2 and float(rows["alice"]["03-ex2"]) == 3
    assert float(rows["bob"]["06-ex3"]) == 0 and float(rows["bob"]["total"]) == full - 2
    assert float(rows["carol"]["06-ex3"]) == 0
    assert float(rows["dave"]["total"]) == 0
    assert float(rows["eve"]["06-ex2"]) == 0
    assert float(rows["frank"]["06-ex3"]) == 2
    assert float(rows["grace"]["06-ex3"]) == 0
    assert "cannot read" in rows["heidi"]["errors"]
    pages = sorted(p.name for p in (out / "feedback").glob("*.html"))
    assert len(pages) == 9 and "bob__06_dropout.html" in pages
    bob = (out / "feedback" / "bob__06_dropout.html").read_text(encoding="utf-8")
    assert "trainlab" in bob and "refused" in bob
    dave = (out / "feedback" / "dave__06_dropout.html").read_text(encoding="utf-8")
    assert dave.count("not attempted") == 5 and "the same" in dave
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    dave_report = homework.report(next(r for r in results if r["student"] == "dave"))
    assert dave_report.count("not attempted") == 5 and "(all 3 checks)" in dave_report
    eve = next(r for r in results if r["student"] == "eve")
    assert any("time limit" in p["message"] for q in eve["questions"] for p in q["parts"])
    (out / "marks.csv").unlink()
    assert homework.main(["export", "--out", str(out)]) == 0
    assert (out / "marks.csv").exists()
    assert homework.main(["feedback", "--out", str(out)]) == 0


def test_a_submission_cannot_touch_files_outside_its_folder_even_when_run(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("safe", encoding="utf-8")
    cell = ("import os\nfor name in os.listdir('.'):\n    os.remove(name)\n"
            "open('junk.txt', 'w').write('x' * 100)\n")
    sandbox = grading.Sandbox([{"qid": "x", "source": cell}],
                              deadline=time.monotonic() + 30)
    workdir = sandbox.workdir
    sandbox.close()
    assert victim.read_text(encoding="utf-8") == "safe"
    assert workdir is None or not workdir.exists()  # None: a tmpfs inside the sandbox


def test_student_ids_come_from_folders_file_names_or_an_ids_table(tmp_path):
    (tmp_path / "bob").mkdir()
    for path in (tmp_path / "Copy of 06_dropout.ipynb", tmp_path / "bob" / "hw.ipynb",
                 tmp_path / "x y.ipynb"):
        path.write_text("{}", encoding="utf-8")
    found = {sid: f.name for sid, f in homework.find_submissions([tmp_path])}
    assert found == {"Copy_of_06_dropout": "Copy of 06_dropout.ipynb", "bob": "hw.ipynb",
                     "x_y": "x y.ipynb"}
    ids = {"x y.ipynb": "s123"}
    assert ("s123", tmp_path / "x y.ipynb") in homework.find_submissions([tmp_path], ids)


def test_every_exercise_heading_states_the_points_of_its_grade_cell():
    """"**Exercise k — title (P points).**" in every lesson, P the grade cell's points."""
    import re

    import nbformat

    heading = re.compile(r"\*\*Exercise (\d+) — [^*]+ \((\d+) points?\)\.\*\*")
    for path in sorted((ROOT / "notebooks").glob("0*.ipynb")):
        lesson = grading.load_lesson(path)
        stated = {int(m.group(1)): float(m.group(2))
                  for cell in nbformat.read(path, as_version=4).cells
                  if cell.cell_type == "markdown" for m in heading.finditer(cell.source)}
        graded = {int(q.qid.split("-ex")[1].removesuffix("-written")): q.points
                  for q in lesson.questions}
        assert stated == graded, path.name
        assert all("point" not in q.title for q in lesson.questions)
