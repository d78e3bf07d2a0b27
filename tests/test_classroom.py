"""A lecturer's class workflow through the real CLI: LMS export names, duplicate hand-ins,
notebooks of other courses, marks.csv for Excel, Canvas and Moodle gradebooks, a Gradescope
autograder run in a simulated /autograder, and the notebook check cell that tells the learner
what the grader will refuse."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import gradescope  # noqa: E402
import homework  # noqa: E402
import lms  # noqa: E402
from trainlab.checks import grading  # noqa: E402


def _lesson(stem: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)


def _student(stem: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "notebooks" / "student" / f"{stem}.ipynb", as_version=4)


def _write(nb: nbformat.NotebookNode, path: Path, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def _with(nb: nbformat.NotebookNode, gid: str, source: str) -> nbformat.NotebookNode:
    next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid
         ).source = source
    return nb


def _csv(path: Path) -> list[dict[str, str]]:
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf", f"{path.name} has no UTF-8 BOM"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def _points(stem: str) -> tuple[float, float]:
    """(automatic, written) points of a lesson."""
    qs = grading.load_lesson(ROOT / "notebooks" / f"{stem}.ipynb").questions
    return (sum(q.points for q in qs if not q.manual), sum(q.points for q in qs if q.manual))


CS231N = '''def affine_forward(x, w, b):
    """Computes the forward pass for an affine (fully connected) layer."""
    out = x.reshape(x.shape[0], -1) @ w + b
    cache = (x, w, b)
    return out, cache


def relu_forward(x):
    out = np.maximum(0, x)
    return out, x
'''


# --------------------------------------------------------------------------------------------
# Item 6: the class workflow
# --------------------------------------------------------------------------------------------
def test_moodle_class_duplicates_foreign_notebooks_marks_and_gradebooks(tmp_path, capsys):
    inbox = tmp_path / "moodle-export"
    alice = inbox / "Alice Müller_101_assignsubmission_file_"
    final = _write(_lesson("06_dropout"), alice / "06_dropout_v2_final.ipynb", 2_000_000_000)
    stub = _write(_student("06_dropout"), alice / "06_dropout_zz_copy.ipynb", 1_900_000_000)
    bob = inbox / "Bob Stone_102_assignsubmission_file_"
    cs231n = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# CS231n: fully connected nets"),
        nbformat.v4.new_code_cell("import numpy as np"), nbformat.v4.new_code_cell(CS231N)])
    _write(cs231n, bob / "FullyConnectedNets.ipynb")
    hw3 = _student("03_initialisation")
    del hw3.metadata["trainlab_homework"]          # recognised by its grade ids
    _write(hw3, bob / "hw3.ipynb")
    one_id = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "def affine_forward(x, w, b):\n    return x @ w + b\n",
        metadata={"nbgrader": {"grade_id": "08-ex1-solution", "solution": True}})])
    _write(one_id, inbox / "Carol Ng_103_assignsubmission_file_" / "lab.ipynb")
    into, out = tmp_path / "class", tmp_path / "graded"
    assert homework.main(["collect", str(inbox), "--into", str(into)]) == 0
    assert homework.main(["grade", str(into), "--out", str(out), "--workers", "2",
                          "--timeout", "60"]) == 0    # 06 ex5 trains 8 times: slow when loaded
    printed = capsys.readouterr().out
    assert "duplicate: 101 06_dropout: graded 06_dropout_v2_final.ipynb" in printed
    assert "ignored 06_dropout_zz_copy.ipynb" in printed
    dups = _csv(out / "duplicates.csv")
    assert [(d["student"], d["lesson"], Path(d["kept"]).name, Path(d["ignored"]).name)
            for d in dups] == [("101", "06_dropout", final.name, stub.name)]
    rows = {r["student"]: r for r in _csv(out / "marks.csv")}
    maxima = rows.pop(homework.MAX_ROW)
    assert set(rows) == {"101", "102", "103"}
    assert rows["101"]["name"] == "Alice Müller" and rows["102"]["name"] == "Bob Stone"
    full = {stem: _points(stem) for stem in ("06_dropout", "03_initialisation")}
    assert maxima["06_dropout total"] == f"{full['06_dropout'][0]:g}" and maxima["06-ex3"] == "2"
    assert maxima["03_initialisation total"] == f"{full['03_initialisation'][0]:g}"
    assert float(maxima["total"]) == full["06_dropout"][0] + full["03_initialisation"][0]
    assert float(rows["101"]["06_dropout total"]) == full["06_dropout"][0]
    assert float(rows["101"]["06-ex1"]) == 3 == float(maxima["06-ex1"])
    assert float(rows["102"]["03_initialisation total"]) == 0
    assert rows["102"]["06_dropout total"] == ""
    assert "FullyConnectedNets.ipynb: not a notebook of this course" in rows["102"]["errors"]
    # affine_forward and relu_forward: lesson 01's track layers (and 08's), the first is named
    assert re.search(r"closest: 01_activations \(0 of \d+ grade ids, 2 of \d+ exercise "
                     r"functions\)", rows["102"]["errors"])
    assert "lab.ipynb: not a notebook of this course" in rows["103"]["errors"]
    assert not any(k.startswith("08") and v for k, v in rows["103"].items())
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert not [r for r in results if r["student"] == "103" and r["lesson"]]
    pages = sorted(p.name for p in (out / "feedback").glob("*.html"))
    assert pages == ["101__06_dropout.html", "102__03_initialisation.html",
                     "102__FullyConnectedNets.html", "103__lab.html"]
    moodle = _csv(out / "moodle_06_dropout.csv")
    assert list(moodle[0]) == ["Identifier", "Full name", "Grade", "Maximum Grade",
                               "Last modified (grade)", "Feedback comments"]
    assert [(m["Identifier"], m["Full name"], m["Grade"], m["Maximum Grade"]) for m in moodle] \
        == [("Participant 101", "Alice Müller", f"{full['06_dropout'][0]:g}",
             f"{sum(full['06_dropout']):g}")]
    assert "06-ex3: 2/2" in moodle[0]["Feedback comments"]
    with (out / "canvas.csv").open(encoding="utf-8-sig", newline="") as fh:
        canvas = list(csv.reader(fh))
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section",
                         "03_initialisation", "06_dropout"]
    assert canvas[1][0].strip() == "Points Possible"
    assert canvas[1][5:] == [f"{full['03_initialisation'][0]:g}", f"{full['06_dropout'][0]:g}"]
    assert ["Alice Müller", "101", "", "", "", "", f"{full['06_dropout'][0]:g}"] in canvas


def test_feedback_pages_of_one_student_and_lesson_never_overwrite_each_other(tmp_path):
    out = tmp_path / "graded"
    out.mkdir()
    row = {"student": "s1", "path": "a/x.ipynb", "lesson": "06_dropout", "questions": [],
           "error": ""}
    results = [row, {**row, "path": "b/y.ipynb", "error": "second copy"}]
    (out / "results.json").write_text(json.dumps(results), encoding="utf-8")
    assert homework.main(["feedback", "--out", str(out)]) == 0
    pages = sorted((out / "feedback").glob("*.html"))
    assert [p.name for p in pages] == ["s1__06_dropout-2.html", "s1__06_dropout.html"]
    assert "second copy" in pages[0].read_text(encoding="utf-8")


def test_canvas_names_late_uploads_and_a_clear_error_for_other_names(tmp_path, capsys):
    inbox = tmp_path / "canvas"
    # the later upload (larger upload id) wins although its file is older and sorts first
    early = _write(_student("06_dropout"), inbox / "stone_bob_201_9001_06_dropout.ipynb",
                   2_000_000_000)
    late = _write(_student("06_dropout"), inbox / "late" / "stonebob_LATE_201_9005_06.ipynb",
                  1_900_000_000)
    out = tmp_path / "graded"
    assert homework.main(["grade", str(inbox), "--out", str(out), "--lms", "canvas"]) == 0
    dups = _csv(out / "duplicates.csv")
    assert [(Path(d["kept"]).name, Path(d["ignored"]).name, d["why"]) for d in dups] == \
        [(late.name, early.name, "a later upload")]
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [(r["student"], r["late"]) for r in results] == [("201", True)]
    (inbox / "Copy of 06_dropout.ipynb").write_text("{}", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        homework.main(["grade", str(inbox), "--out", str(out), "--lms", "canvas"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "1 file name(s) are not Canvas export names" in err
    assert "Copy of 06_dropout.ipynb" in err and "lastname_firstname_12345_67890" in err
    (inbox / "Dee Roe_301_assignsubmission_file_").mkdir()
    _write(_student("06_dropout"), inbox / "Dee Roe_301_assignsubmission_file_" / "a.ipynb")
    with pytest.raises(SystemExit):
        homework.main(["collect", str(inbox), "--into", str(tmp_path / "c"), "--lms", "any"])
    err = capsys.readouterr().err
    assert "1 file name(s) are not Moodle or Canvas export names" in err
    assert "'Full Name_12345_assignsubmission_file_/notebook.ipynb' or" in err
    (inbox / "Copy of 06_dropout.ipynb").unlink()
    assert homework.main(["collect", str(inbox), "--into", str(tmp_path / "c"),
                          "--lms", "any"]) == 0
    assert sorted(p.parent.name for p in (tmp_path / "c").rglob("*.ipynb")) == [
        "201", "201", "Dee Roe_301_assignsubmission_file_"]
    with pytest.raises(SystemExit):
        homework.main(["grade", str(inbox), "--lms", "blackboard"])


@pytest.mark.parametrize("name, system, expected", [
    ("Jane Doe_12345_assignsubmission_file_/06.ipynb", None, ("moodle", "12345", "Jane Doe")),
    ("Jane Doe_12345_assignsubmission_file_06.ipynb", "moodle", ("moodle", "12345", "Jane Doe")),
    ("doe_jane_12345_67890_06_dropout.ipynb", "canvas", ("canvas", "12345", "doe_jane")),
    ("doe_jane_12345_67890_06_dropout.ipynb", None, None),
    ("hw_2024_1_x.ipynb", "moodle", None),
    ("LATE_doe_jane_12345_67891_06.ipynb", "any", ("canvas", "12345", "doe_jane")),
    ("Jane Doe_12345_assignsubmission_onlinetext_/06.ipynb", "any",
     ("moodle", "12345", "Jane Doe")),
])
def test_lms_export_names(name, system, expected):
    got = lms.parse(Path(name), system)
    assert (got and (got.system, got.student, got.name)) == expected


def test_export_carries_a_written_answer_column_for_the_lecturer(tmp_path):
    """Any question with "manual": true: an empty score, its points in the max row, left out
    of the automatic total; the Moodle worksheet's maximum includes it."""
    out = tmp_path / "graded"
    out.mkdir()
    auto = {"qid": "06-ex1", "points": 1.0, "title": "", "parts": [
        {"label": "c", "hidden": False, "points": 1.0, "score": 1.0, "status": "passed",
         "message": ""}]}
    written = {"qid": "06-ex9-written", "points": 2.0, "title": "", "parts": [],
               "manual": True, "answer": "Because it underfits."}
    result = {"student": "301", "name": "Dee", "path": "x.ipynb", "lesson": "06_dropout",
              "questions": [auto, written], "error": ""}
    (out / "results.json").write_text(json.dumps([result]), encoding="utf-8")
    assert homework.main(["export", "--out", str(out)]) == 0
    maxima, row = _csv(out / "marks.csv")
    assert (maxima["06-ex9-written"], row["06-ex9-written"]) == ("2", "")
    assert (maxima["06_dropout total"], row["06_dropout total"]) == ("1", "1.0")
    moodle = _csv(out / "moodle_06_dropout.csv")[0]
    assert (moodle["Grade"], moodle["Maximum Grade"]) == ("1", "3")
    assert "06-ex9-written: graded by hand" in moodle["Feedback comments"]


# --------------------------------------------------------------------------------------------
# Gradescope
# --------------------------------------------------------------------------------------------
GRADESCOPE_TOP = {"score", "execution_time", "output", "visibility", "stdout_visibility",
                  "extra_data", "tests", "leaderboard"}
GRADESCOPE_TEST = {"score", "max_score", "status", "name", "name_format", "number", "output",
                   "output_format", "tags", "visibility", "extra_data"}
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def _valid_results(payload: dict) -> None:
    """The fields of Gradescope's documented results.json schema, with their types."""
    assert set(payload) <= GRADESCOPE_TOP and isinstance(payload["score"], float)
    assert payload["visibility"] in VISIBILITY and payload["stdout_visibility"] in VISIBILITY
    for test in payload["tests"]:
        assert set(test) <= GRADESCOPE_TEST
        assert {"name", "score", "max_score", "output", "visibility"} <= set(test)
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
        assert 0 <= test["score"] <= test["max_score"] and test["visibility"] in VISIBILITY


def _run_autograder(root: Path, notebook: nbformat.NotebookNode) -> dict:
    sub = root / "submission"
    if sub.exists():
        for old in sub.iterdir():
            old.unlink()
    _write(notebook, sub / "my homework.ipynb")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(GRADESCOPE_ROOT=str(root), TRAINLAB_GRADER_PYTHON=sys.executable)
    done = subprocess.run(["bash", str(root / "source" / "run_autograder")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_gradescope_bundle_runs_in_a_simulated_autograder(tmp_path):
    bundle = tmp_path / "autograder.zip"
    assert gradescope.main(["build", "--out", str(bundle), "--lesson", "06_dropout"]) == 0
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        assert {"setup.sh", "run_autograder"} <= names
        assert "notebooks/06_dropout.ipynb" in names and "data/mnist/t10k-images-idx3-ubyte.gz" \
            in names and json.loads(zf.read("config.json"))["lessons"] == ["06_dropout"]
        assert zf.getinfo("run_autograder").external_attr >> 16 & 0o111
        assert "nbformat==" in zf.read("setup.sh").decode() and not any(
            "__pycache__" in n for n in names)
        zf.extractall(root / "source")
    slip = ("def dropout_forward(x, dropout_param):\n"     # forgets to divide by keep_prob
            "    keep_prob = dropout_param['keep_prob']\n"
            "    if dropout_param['mode'] == 'eval':\n        return x, (None, keep_prob)\n"
            "    mask = np.random.default_rng(dropout_param.get('seed')).random(x.shape) < "
            "keep_prob\n    return x * mask, (mask, keep_prob)\n")
    payload = _run_autograder(root, _with(_lesson("06_dropout"), "06-ex1-solution", slip))
    _valid_results(payload)
    tests = {t["number"]: t for t in payload["tests"]}
    automatic, written = _points("06_dropout")
    assert payload["score"] == automatic - 3 == sum(t["score"] for t in payload["tests"])
    assert [t["score"] for t in payload["tests"] if "manual" in t.get("tags", [])] == [0.0]
    assert sum(t["max_score"] for t in payload["tests"]) == automatic + written
    assert tests["06-ex1"]["score"] == 0 and "keep_prob" in tests["06-ex1"]["output"]
    assert "hidden case: failed" in tests["06-ex1"]["output"]
    assert "seed=3" not in tests["06-ex1"]["output"]        # a hidden case's code stays hidden
    assert tests["06-ex3"]["score"] == tests["06-ex3"]["max_score"] == 2.0
    other = _run_autograder(root, _lesson("03_initialisation"))
    _valid_results(other)
    assert other["score"] == 0.0 and other["tests"] == []
    assert "it is 03_initialisation, not this assignment's 06_dropout" in other["output"]
    with pytest.raises(SystemExit):
        gradescope.main(["build", "--out", str(bundle), "--lesson", "99_nothing"])


# --------------------------------------------------------------------------------------------
# Item 5: no silent false refusal
# --------------------------------------------------------------------------------------------
IDIOMS = '''from typing import Tuple
from dataclasses import dataclass
import copy
import time


@dataclass
class Scale:
    """A constant; like __init__, the dataclass writes its own __repr__."""
    factor: float = 1.0


class Dropper:
    def __init__(self):
        self._cache = None

    def __call__(self, x, keep_prob, seed):
        self._cache = np.random.default_rng(seed).random(x.shape) < keep_prob
        return x * copy.copy(self._cache) / keep_prob

    def mask(self):
        return self._cache


def dropout_forward(x, dropout_param):
    keep_prob: float = dropout_param["keep_prob"]
    if dropout_param["mode"] == "eval":
        return x, (None, keep_prob)
    drop = Dropper()
    out = drop(x, keep_prob, dropout_param.get("seed")) * Scale().factor
    return out, (drop.mask(), keep_prob)


if __name__ == "__main__":
    start = time.perf_counter()
    help(np.divide)
'''


@pytest.mark.parametrize("source", [
    "class A:\n    def __init__(self):\n        self._cache = {}\n",
    "from typing import Tuple\n", "import dataclasses\n@dataclasses.dataclass\nclass P:\n"
    "    w: float = 0.0\n", "if __name__ == '__main__':\n    pass\n", "import time\nimport copy\n",
    "help(np.divide)\n", 'def f():\n    """Called from __init__."""\n    return 1\n', IDIOMS])
def test_harmless_idioms_pass_the_audit(source):
    assert grading.audit(source) is None


@pytest.mark.parametrize("source, why", [
    ("import typing\nclass V:\n    a: 'int'\n", "type annotation is a string"),
    ("from typing import get_type_hints\n", "get_type_hints"),
    ("import typing\ntyping.get_type_hints(int)\n", "get_type_hints"),
    ("self = np\nself._core\n", "._core"),
    ("class A:\n    def f(self):\n        return self.__dict__\n", "__dict__"),
    ("x = '__import__'\n", "dunder"),
    ("def f():\n    '''doc'''\n    return f.__globals__\n", "__globals__")])
def test_what_reaches_past_the_rules_is_still_refused(source, why):
    verdict = grading.audit(source)
    assert verdict is not None and verdict[0] == "forbidden" and why in verdict[1]


@pytest.mark.slow
def test_the_check_cell_audits_the_whole_cell_like_the_grader(tmp_path):
    """In a real kernel: an import outside the function (which the old per-function audit did
    not see) gets a warning naming the cell's line and the fix; the idioms get none; and the
    grader scores the idioms' cell in full."""
    setup = ("import numpy as np\nfrom trainlab.checks import dropout as checks\n"
             "from trainlab.checks import passed\n")
    check = ("checks.check_dropout_layer(dropout_forward, seed=0, keep_prob=0.8)\n"
             "passed('Exercise 1')\n")
    refused = ("import sys\n\ndef dropout_forward(x, dropout_param):\n"
               "    keep_prob = dropout_param['keep_prob']\n"
               "    if dropout_param['mode'] == 'eval':\n        return x, (None, keep_prob)\n"
               "    mask = np.random.default_rng(dropout_param['seed']).random(x.shape) < "
               "keep_prob\n    return x * mask / keep_prob, (mask, keep_prob)\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in
                                         (setup, refused, check, IDIOMS, check)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()

    def text(cell):
        return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")

    warned, clean = text(nb.cells[2]), text(nb.cells[4])
    assert "✓ Exercise 1: all checks passed" in warned
    assert "⚠ but the grader will score it 0 (it will not run that cell): the cell defining " \
           "dropout_forward imports sys (line 1 of its cell)" in warned
    assert "To fix: rewrite that line" in warned
    assert "✓ Exercise 1: all checks passed" in clean and "⚠" not in clean
    lesson = _with(_lesson("06_dropout"), "06-ex1-solution", IDIOMS)
    path = _write(lesson, tmp_path / "class" / "s1" / "06.ipynb")
    out = tmp_path / "graded"
    assert homework.main(["grade", str(path.parent.parent), "--out", str(out)]) == 0
    result = json.loads((out / "results.json").read_text(encoding="utf-8"))[0]
    q = next(q for q in result["questions"] if q["qid"] == "06-ex1")
    assert [p["status"] for p in q["parts"]] == ["passed"] * len(q["parts"])


def test_an_ids_table_names_students_and_its_submitted_time_picks_the_latest(tmp_path, capsys):
    inbox = tmp_path / "inbox"
    newer_file = _write(_student("06_dropout"), inbox / "a.ipynb", 2_000_000_000)
    older_file = _write(_student("06_dropout"), inbox / "b.ipynb", 1_900_000_000)
    ids = tmp_path / "ids.csv"
    ids.write_text("\ufefffile,student,name,submitted\n"
                   "a.ipynb,s7,Zoë Ā,2026-11-01T10:00:00+00:00\n"
                   "b.ipynb,s7,Zoë Ā,2026-11-02T09:00:00Z\n", encoding="utf-8")
    out = tmp_path / "graded"
    assert homework.main(["grade", str(inbox), "--out", str(out), "--ids", str(ids)]) == 0
    dups = _csv(out / "duplicates.csv")
    assert [(Path(d["kept"]).name, Path(d["ignored"]).name, d["kept_submitted"]) for d in dups] \
        == [(older_file.name, newer_file.name, "2026-11-02 09:00:00 UTC")]
    rows = _csv(out / "marks.csv")
    assert [(r["student"], r["name"]) for r in rows[1:]] == [("s7", "Zoë Ā")]
    ids.write_text("file,student,submitted\na.ipynb,s7,yesterday\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        homework.main(["grade", str(inbox), "--out", str(out), "--ids", str(ids)])
    assert "a.ipynb: submitted time 'yesterday' is not an ISO date and time" in \
        capsys.readouterr().err
    ids.write_text("name,student\na.ipynb,s7\n", encoding="utf-8")
    with pytest.raises(SystemExit):
        homework.main(["grade", str(inbox), "--out", str(out), "--ids", str(ids)])
    assert "needs the columns file and student (it lacks file)" in capsys.readouterr().err


def test_gradescope_bundle_carries_the_secret_and_grades_in_a_container_without_bwrap(
        tmp_path, monkeypatch):
    """Gradescope's container may refuse bubblewrap's namespaces: the submission is then graded
    in that container (one per submission), said in the output, never a traceback; a secret given
    at build time draws the hidden cases."""
    secret = tmp_path / "term-secret"
    secret.write_text("s" * 32, encoding="utf-8")
    bundle = tmp_path / "autograder.zip"
    assert gradescope.main(["build", "--out", str(bundle), "--lesson", "06_dropout",
                            "--secret-file", str(secret)]) == 0
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as zf:
        assert zf.read("secret") == b"s" * 32
        zf.extractall(root / "source")
    _write(_lesson("06_dropout"), root / "submission" / "hw.ipynb")
    monkeypatch.setattr(grading.isolation, "problem", lambda: "no user namespaces here")
    payload = gradescope.run(root)
    _valid_results(payload)
    automatic, _ = _points("06_dropout")
    assert payload["score"] == automatic
    assert "without bubblewrap inside Gradescope's own container (no user namespaces here)" \
        in payload["output"] and "public ones" not in payload["output"]
    (root / "source" / "secret").unlink()
    assert "hidden cases are the public ones" in gradescope.run(root)["output"]
