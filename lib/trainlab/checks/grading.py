"""Grade a learner's notebook by measuring their code, in a process they cannot reach.

How one submission is graded (:func:`grade_notebook`):

1. The lesson is recognised from the notebook's ``metadata.trainlab_homework.lesson`` (written
   by ``scripts/homework.py release``) or, failing that, from the ``grade_id`` of its cells.
2. Only the learner's *solution cells* are taken from the submission; every check comes from
   the committed lesson (hidden cases included). Stored outputs are never read: a notebook
   that was not run is graded like one that was.
3. Each solution cell is audited (:func:`audit`): a cell that imports or names trainlab or
   torch scores 0 for its question, with the reason; so does one using ``sys``, ``os``,
   ``eval``, frame or dunder introspection or NumPy file I/O. Such a cell is not run.
4. The remaining cells run in a fresh interpreter (``python -I sandbox.py``) in an empty
   temporary folder, under a memory limit and a deadline, with trainlab and torch blocked and
   its prints discarded (:class:`Sandbox`).
5. A written answer (an nbgrader "manually graded answer" markdown cell) is not graded here:
   its text goes into the result (``manual``, ``answer``) for the feedback and the lecturer.
6. Every check statement of the lesson's check cells is one *part*, run here, in the grading
   process: the learner's functions are proxies that send the inputs to the child and bring
   the return values back (as plain arrays). References and comparisons never run where the
   learner's code runs, so rebinding checks, patching NumPy or reading frames in the child
   changes nothing but the learner's own answers. Each part earns its share of the question's
   points; a failing part keeps its message (with the slip's hint when one is recognised).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import numpy as np

from trainlab.checks import ExerciseError, NotAttemptedError
from trainlab.checks.sandbox import MAX_MESSAGE, Unsendable, decode, encode, frame

SANDBOX = Path(__file__).with_name("sandbox.py")
LIBRARIES = ("trainlab", "torch")
ALLOWED_IMPORTS = ("numpy", "math", "itertools", "functools", "collections", "__future__")
"""typing and dataclasses are not allowed: ``typing.get_type_hints`` evaluates strings, a way
around the audit (found by a cheating-student test)."""
FORBIDDEN_NAMES = ("eval", "exec", "compile", "__import__", "open", "globals", "locals", "vars",
                   "getattr", "setattr", "delattr", "breakpoint", "input", "memoryview", "exit",
                   "quit", "help", "__builtins__", "__loader__", "__spec__")
FORBIDDEN_ATTRS = ("f_back", "f_globals", "f_locals", "f_builtins", "f_code", "tb_frame",
                   "gi_frame", "cr_frame", "ag_frame", "load", "loadtxt", "genfromtxt", "fromfile",
                   "memmap", "DataSource", "ctypeslib", "tofile", "save", "savez", "savetxt",
                   "f2py", "distutils", "dump", "open_memmap", "fromregex", "npyio", "testing",
                   "os", "sys", "subprocess", "shutil", "builtins", "importlib", "ctypes",
                   "rmtree")
ALLOWED_DUNDERS = ("__init__", "__call__", "__name__", "__len__", "__getitem__", "__repr__")


class GradingError(ExerciseError):
    """The learner's code could not be called (timed out, crashed, missing)."""


@dataclass
class Part:
    label: str
    code: str
    hidden: bool
    points: float = 0.0
    score: float = 0.0
    status: str = "not run"
    message: str = ""


@dataclass
class Question:
    qid: str
    points: float
    title: str
    functions: list[str]
    parts: list[Part] = field(default_factory=list)
    solution_cell: str = ""
    note: str = ""
    manual: bool = False
    """A written answer (an nbgrader "manually graded answer" markdown cell): the grader
    collects the learner's text into the feedback and leaves its mark to the lecturer."""
    answer: str = ""

    @property
    def score(self) -> float:
        return sum(p.score for p in self.parts)


@dataclass
class Lesson:
    stem: str
    setup: str
    questions: list[Question]
    library_names: tuple[str, ...] = ()
    """Names the lesson's own code cells bind to trainlab or torch (``from trainlab import
    ridge`` binds ``ridge``): a learner's notebook has them too, so a solution must not use them."""


# --------------------------------------------------------------------------------------------
# The lesson: questions, their functions and check statements
# --------------------------------------------------------------------------------------------
def _grade_meta(cell: Any) -> dict[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


WRITTEN_STUB = "YOUR ANSWER HERE"
"""What a written-answer cell holds in the student notebook (nbgrader's own text)."""
MAX_ANSWER = 5000
"""Characters of a written answer kept for the feedback and the lecturer."""


def is_written(cell: Any) -> bool:
    """A written answer: a markdown cell marked both graded and solution (nbgrader's "manually
    graded answer"); the learner replaces ``YOUR ANSWER HERE`` with prose."""
    meta = _grade_meta(cell)
    return cell.get("cell_type") == "markdown" and bool(meta.get("grade")) and \
        bool(meta.get("solution")) and "grade_id" in meta


def written_answers(nb: Any) -> dict[str, str]:
    """``grade_id -> text`` of the written answers in a learner's notebook (stub removed)."""
    found = {}
    for cell in nb.get("cells", []):
        if is_written(cell):
            text = _source(cell).replace(WRITTEN_STUB, "").strip()
            found[str(_grade_meta(cell)["grade_id"])] = text[:MAX_ANSWER]
    return found


def _strip_hidden(source: str) -> list[tuple[str, bool]]:
    """Lines of a check cell with whether each lies in a hidden-tests block."""
    lines, hidden = [], False
    for line in source.splitlines():
        if "### BEGIN HIDDEN TESTS" in line:
            hidden = True
        elif "### END HIDDEN TESTS" in line:
            hidden = False
        else:
            lines.append((line, hidden))
    return lines


def _check_parts(source: str) -> tuple[list[str], list[Part]]:
    """Import statements and graded statements (parts) of one check cell."""
    numbered = _strip_hidden(source)
    tree = ast.parse("\n".join(line for line, _ in numbered))
    imports, parts = [], []
    for stmt in tree.body:
        code = ast.get_source_segment("\n".join(line for line, _ in numbered), stmt) or ""
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            imports.append(code)
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and \
                isinstance(stmt.value.func, ast.Name) and stmt.value.func.id == "passed":
            continue
        hidden = numbered[stmt.lineno - 1][1]
        first = code.splitlines()[0]
        label = first if len(first) <= 90 else first[:87] + "..."
        parts.append(Part(label=label, code=code, hidden=hidden))
    return imports, parts


def _defined_functions(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)]


_POINTS_NOTE = re.compile(r" \(\d+ points?\)$")
"""The "(2 points)" that ends an exercise's heading (the report gives the points itself)."""


def _title(cells: list[Any], index: int) -> str:
    for cell in reversed(cells[:index]):
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("**Exercise") or line.startswith("**Part"):
                    title = line.strip("*").split("**")[0].strip().rstrip(".")
                    return _POINTS_NOTE.sub("", title)
            break
    return ""


def load_lesson(path: Path) -> Lesson:
    """The graded questions of the committed lesson at ``path``."""
    nb = nbformat.read(path, as_version=4)
    setup: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code" or _grade_meta(cell).get("grade"):
            continue
        for line in cell.source.splitlines():
            if line.startswith(("from trainlab.checks import", "import trainlab.checks")):
                setup.append(line)
    solutions = {_grade_meta(c)["grade_id"]: c.source for c in nb.cells
                 if _grade_meta(c).get("solution") and "grade_id" in _grade_meta(c)}
    questions = []
    for i, cell in enumerate(nb.cells):
        meta = _grade_meta(cell)
        if not meta.get("grade"):
            continue
        if is_written(cell):
            gid = str(meta["grade_id"])
            questions.append(Question(qid=gid, points=float(meta.get("points", 1)),
                                      title=_title(nb.cells, i), functions=[], manual=True,
                                      solution_cell=gid))
            continue
        qid = meta["grade_id"].removesuffix("-check")
        imports, parts = _check_parts(cell.source)
        setup.extend(imports)
        solution = solutions.get(f"{qid}-solution", "")
        q = Question(qid=qid, points=float(meta.get("points", 1)), title=_title(nb.cells, i),
                     functions=_defined_functions(solution), parts=parts,
                     solution_cell=f"{qid}-solution")
        for part in parts:
            part.points = q.points / len(parts)
        questions.append(q)
    return Lesson(stem=path.stem, setup="\n".join(dict.fromkeys(setup)), questions=questions,
                  library_names=_library_names(nb.cells))


def _library_names(cells: list[Any]) -> tuple[str, ...]:
    names: set[str] = set()
    for cell in cells:
        if cell.cell_type != "code" or _grade_meta(cell):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and \
                    (node.module or "").split(".")[0] in LIBRARIES:
                names.update(a.asname or a.name for a in node.names)
            elif isinstance(node, ast.Import):
                names.update((a.asname or a.name).split(".")[0] for a in node.names
                             if a.name.split(".")[0] in LIBRARIES)
    return tuple(sorted(names - {"*"}))


def uses_lesson_library(source: str, library_names: Sequence[str]) -> tuple[str, str] | None:
    """``("library", message)`` when the cell reads a name from ``library_names`` that it
    does not bind itself (a trainlab module the lesson's set-up cell imported), else None."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and \
                node.id in library_names and node.id not in bound:
            return "library", (f"uses {node.id} (line {node.lineno}), which the lesson's set-up "
                               f"cell imported from trainlab or torch: this exercise asks you to "
                               f"write the code yourself, so a solution calling it scores 0")
    return None


def lesson_of(nb: Any, lessons: dict[str, Path]) -> str | None:
    """The stem of the lesson a submission belongs to: from its metadata, else from its cells'
    grade ids, else the lesson most of whose exercise functions its code cells define (a
    notebook pasted into a new file); None if nothing matches."""
    stem = (nb.get("metadata", {}).get("trainlab_homework") or {}).get("lesson")
    if stem in lessons:
        return stem
    for cell in nb.get("cells", []):
        gid = str(_grade_meta(cell).get("grade_id", ""))
        for name in lessons:
            if gid.startswith(name[:2] + "-ex"):
                return name
    defined = {f for c in nb.get("cells", []) if c.get("cell_type") == "code"
               for f in _defined_functions(_source(c))}
    best, best_n = None, 0
    for name, path in lessons.items():
        wanted = {f for q in load_lesson(path).questions for f in q.functions}
        if len(wanted & defined) > best_n:
            best, best_n = name, len(wanted & defined)
    return best


# --------------------------------------------------------------------------------------------
# Audit of a solution cell
# --------------------------------------------------------------------------------------------
def audit(source: str) -> tuple[str, str] | None:
    """``(kind, message)`` for the first rule the cell breaks, or None.

    kind "library": it uses trainlab or torch (the exercise asks for the learner's own code);
    kind "forbidden": it uses something that could reach the grader or the disk (sys, os,
    eval, frames, private or dunder attributes such as ``np._core`` or ``__globals__``, NumPy
    file I/O); kind "syntax": it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return "syntax", f"the cell does not parse: {exc.msg} (line {exc.lineno})"
    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        for mod in modules:
            root = mod.split(".")[0]
            if root in LIBRARIES:
                return "library", (f"imports {mod} (line {line}): this exercise asks you to write "
                                   f"the code yourself, so a solution calling {root} scores 0")
            if root not in ALLOWED_IMPORTS:
                return "forbidden", (f"imports {mod} (line {line}): solutions may import only "
                                     f"{', '.join(ALLOWED_IMPORTS[:-1])}")
        if isinstance(node, ast.Name):
            if node.id in LIBRARIES:
                return "library", (f"uses {node.id} (line {line}): this exercise asks you to "
                                   f"write the code yourself, so calling {node.id} scores 0")
            if node.id in FORBIDDEN_NAMES:
                return "forbidden", f"uses `{node.id}` (line {line}), which solutions may not use"
        if isinstance(node, ast.Attribute):
            attr = node.attr
            if attr in FORBIDDEN_ATTRS or (attr.startswith("_") and attr not in ALLOWED_DUNDERS):
                return "forbidden", f"uses `.{attr}` (line {line}), which solutions may not use"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "__" in node.value:
            return "forbidden", (f"a string names a dunder (line {line}), a way to reach the "
                                 f"grader through code held in a string")
        if isinstance(node, ast.Global | ast.Nonlocal):
            continue
    return None


# --------------------------------------------------------------------------------------------
# The child process
# --------------------------------------------------------------------------------------------
class Sandbox:
    """A fresh interpreter running the learner's cells; :meth:`call` calls their functions."""

    def __init__(self, cells: list[dict[str, str]], deadline: float,
                 memory_bytes: int = 4 * 2**30) -> None:
        self.deadline = deadline
        self.dead = ""
        self.workdir = Path(tempfile.mkdtemp(prefix="trainlab-grade-"))
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.workdir), "OMP_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "LC_ALL": "C.UTF-8"}
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(SANDBOX), str(to_child_r), str(from_child_w)],
            cwd=self.workdir, env=env, pass_fds=(to_child_r, from_child_w),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        os.close(to_child_r)
        os.close(from_child_w)
        self.errors: dict[str, str] = {}
        self.names: list[str] = []
        self._send({"cells": cells, "memory_bytes": memory_bytes})
        reply, _ = self._receive()
        self.errors, self.names = reply.get("errors", {}), reply.get("names", [])

    def _send(self, message: dict[str, Any], blobs: list[bytes] | None = None) -> None:
        view = memoryview(frame(message, blobs or []))
        try:
            while view:
                n = os.write(self._to_child, view[:1 << 20])
                view = view[n:]
        except OSError as exc:
            self._fail(f"your code stopped the grading process ({exc.strerror})")

    def _read(self, size: int) -> bytes:
        if size > MAX_MESSAGE:
            self._fail("your function returned more data than the grader accepts")
        chunks, got = [], 0
        while got < size:
            left = self.deadline - time.monotonic()
            if left <= 0:
                self._fail("time limit reached (an endless loop, or far too slow)")
            ready, _, _ = select.select([self._from_child], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._from_child, min(size - got, 1 << 22))
            if not chunk:
                code = self.proc.poll()
                self._fail(f"your code ended the grading process (exit status {code})")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _receive(self) -> tuple[dict[str, Any], list[bytes]]:
        if self.dead:
            raise GradingError(self.dead)
        size, count = struct.unpack("<QQ", self._read(16))
        if count > 10_000:
            self._fail("your function returned too many arrays")
        try:
            message = json.loads(self._read(size))
        except ValueError:
            self._fail("the grading process sent an unreadable reply")
        blobs = [self._read(struct.unpack("<Q", self._read(8))[0]) for _ in range(count)]
        return message, blobs

    def _fail(self, why: str) -> None:
        self.dead = why
        self.close()
        raise GradingError(why)

    def call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any],
             obj: int | None = None) -> Any:
        if self.dead:
            raise GradingError(self.dead)
        callbacks: dict[int, Any] = {}
        blobs: list[bytes] = []
        message = {"call": name, "args": encode(list(args), blobs, callbacks),
                   "kwargs": encode(kwargs, blobs, callbacks)}
        if obj is not None:
            message["obj"] = obj
        self._send(message, blobs)
        while True:
            reply, blobs = self._receive()
            if "callback" not in reply:
                break
            fn = callbacks.get(reply["callback"])
            try:
                out: list[bytes] = []
                value = encode(fn(*decode(reply["args"], blobs)), out)  # type: ignore[misc]
                self._send({"ok": value}, out)
            except Exception as exc:  # noqa: BLE001 - reported back to the learner's code
                self._send({"error": f"{type(exc).__name__}: {exc}"})
        if "missing" in reply:
            raise GradingError(f"`{name}` is not defined by your solution cells")
        return self._result(name, args, reply, blobs)

    def _result(self, name: str, args: tuple[Any, ...], reply: dict[str, Any],
                blobs: list[bytes]) -> Any:
        if "not_implemented" in reply:
            raise NotImplementedError(reply["not_implemented"])
        if "raised" in reply:
            hint = (" (only the exercise's own cell is run when grading: define every helper "
                    "it needs inside that cell)") if reply["raised"].startswith("NameError") else ""
            raise GradingError(f"your {name} raised {reply['raised']}{hint}")
        make = self._object
        _write_back(args, decode(reply.get("args_after", []), blobs, None, make))
        return decode(reply["ok"], blobs, None, make)

    def _object(self, key: int) -> StudentObject:
        return StudentObject(self, key)

    def attribute(self, key: int, name: str) -> Any:
        """Attribute ``name`` of the learner's object ``key`` (a copy), or a callable that calls
        the method of that name in the child."""
        if self.dead:
            raise GradingError(self.dead)
        self._send({"attr": name, "obj": key})
        reply, blobs = self._receive()
        if "raised" in reply:
            raise GradingError(f"reading .{name}: {reply['raised']}")
        if reply.get("method"):
            return lambda *args, **kwargs: self.call(name, args, kwargs, obj=key)
        return decode(reply["ok"], blobs, None, self._object)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)
            except OSError:
                self.proc.kill()
        self.proc.wait()
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.workdir, ignore_errors=True)


def _write_back(sent: Any, after: Any) -> None:
    """Copy the child's in-place changes of array arguments into the parent's arrays, so that
    a check that an input was left untouched sees what the learner's function did."""
    if isinstance(sent, np.ndarray) and isinstance(after, np.ndarray) and \
            sent.shape == after.shape and sent.flags.writeable:
        if not np.array_equal(sent, after, equal_nan=sent.dtype.kind == "f"):
            sent[...] = after
    elif isinstance(sent, dict) and isinstance(after, dict):
        sent.clear()                # e.g. batch norm's running averages, kept in bn_param
        sent.update(after)
    elif isinstance(sent, list | tuple) and isinstance(after, list | tuple) and \
            len(sent) == len(after):
        for s, a in zip(sent, after, strict=True):
            _write_back(s, a)


class StudentObject:
    """Stands for an instance of a learner's class that lives in the child (a network, a
    solver): reading an attribute brings a copy of it, calling a method runs it there."""

    def __init__(self, sandbox: Sandbox, key: int) -> None:
        self.sandbox, self.sandbox_handle = sandbox, key

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.sandbox.attribute(self.sandbox_handle, name)


class StudentFunction:
    """Stands for the learner's function of this name in the child process."""

    def __init__(self, sandbox: Sandbox, name: str) -> None:
        self.sandbox, self.__name__ = sandbox, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        result = self.sandbox.call(self.__name__, args, kwargs)
        if isinstance(result, Unsendable):
            raise GradingError(f"your {self.__name__} returned {result!r}, not numbers")
        return result


# --------------------------------------------------------------------------------------------
# One submission
# --------------------------------------------------------------------------------------------
@dataclass
class Submission:
    student: str
    path: str
    lesson: str
    questions: list[Question]
    error: str = ""
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return sum(q.score for q in self.questions)

    @property
    def max_score(self) -> float:
        """Points the grader awards (written answers are the lecturer's)."""
        return sum(q.points for q in self.questions if not q.manual)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _source(cell: Any) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _solution_cells(nb: Any, questions: list[Question] | None = None) -> dict[str, str]:
    """``grade_id -> source`` of the learner's solution cells.

    A question whose cell lost its nbgrader metadata (copied into a new cell or notebook) is
    matched to the last code cell without that metadata that defines all of the question's
    functions; the audit and the sandbox then treat it like any solution cell."""
    found = {}
    for cell in nb.get("cells", []):
        meta = _grade_meta(cell)
        if cell.get("cell_type") == "code" and meta.get("solution") and "grade_id" in meta:
            found[str(meta["grade_id"])] = _source(cell)
    plain = [_source(c) for c in nb.get("cells", [])
             if c.get("cell_type") == "code" and not _grade_meta(c)]
    for q in questions or []:
        if q.solution_cell in found or not q.functions:
            continue
        match = [src for src in plain if set(q.functions) <= set(_defined_functions(src))]
        if match:
            found[q.solution_cell] = match[-1]
    return found


MAX_SOLUTION_CHARS = 12_000
"""The longest solution cell the grader runs, in characters (the capstone's layer library, the
largest, is about 6,000): trained weights pasted in as literals (or as an encoded string) do
not fit, so a network the grader scores has to come out of the training it runs."""


def _too_long(source: str) -> tuple[str, str] | None:
    if len(source) <= MAX_SOLUTION_CHARS:
        return None
    return "forbidden", (f"the cell holds {len(source):,} characters, over the grader's limit of "
                         f"{MAX_SOLUTION_CHARS:,}: write code, not data (no pasted weights)")


def _missing_message(q: Question) -> str:
    names = ", ".join(f"`{f}`" for f in q.functions) or "the exercise's code"
    return (f"no solution cell for {q.qid}: the notebook has no cell with nbgrader grade_id "
            f"'{q.solution_cell}' and no code cell defining {names}; write your answer in "
            f"the exercise's cell of the student notebook")


def grade_notebook(nb: Any, lesson: Lesson, student: str = "", path: str = "",
                   timeout: float = 60.0) -> Submission:
    """Grade the learner's notebook ``nb`` (a dict as read by nbformat) against ``lesson``."""
    start = time.monotonic()
    sub = Submission(student=student, path=path, lesson=lesson.stem,
                     questions=[Question(q.qid, q.points, q.title, list(q.functions),
                                         [Part(p.label, p.code, p.hidden, p.points)
                                          for p in q.parts], q.solution_cell, manual=q.manual)
                                for q in lesson.questions])
    answers = written_answers(nb)
    for q in sub.questions:
        if q.manual:
            q.answer = answers.get(q.qid, "")
            q.note = "" if q.answer else "no written answer: the cell still says YOUR ANSWER HERE" \
                if q.qid in answers else f"no written-answer cell '{q.qid}' in the notebook"
    cells, refused = [], {}
    solutions = _solution_cells(nb, sub.questions)
    for q in sub.questions:
        if q.solution_cell not in solutions and not q.manual:
            refused[q.qid] = ("missing", _missing_message(q))
    for gid, source in solutions.items():
        verdict = audit(source) or uses_lesson_library(source, lesson.library_names) or \
            _too_long(source)
        if verdict is None:
            cells.append({"qid": gid, "source": source})
        else:
            refused[gid.removesuffix("-solution")] = ("refused", verdict[1])
    try:
        sandbox = Sandbox(cells, deadline=start + timeout)
    except GradingError as exc:
        sub.error = str(exc)
        for q in sub.questions:
            for p in q.parts:
                p.status, p.message = "error", str(exc)
        sub.seconds = time.monotonic() - start
        return sub
    try:
        namespace: dict[str, Any] = {"np": np}
        exec(lesson.setup, namespace)  # noqa: S102 - the committed lesson's own imports
        namespace["passed"] = lambda *a, **k: None
        for name in {f for q in sub.questions for f in q.functions}:
            namespace[name] = StudentFunction(sandbox, name)
        for q in sub.questions:
            _grade_question(q, namespace, sandbox, refused)
    finally:
        sandbox.close()
    sub.seconds = time.monotonic() - start
    return sub


def _grade_question(q: Question, namespace: dict[str, Any], sandbox: Sandbox,
                    refused: dict[str, tuple[str, str]]) -> None:
    if q.manual:
        return
    if q.qid in refused:
        status, message = refused[q.qid]
        for p in q.parts:
            p.status, p.message = status, message
        q.note = message
        return
    cell_error = sandbox.errors.get(f"{q.qid}-solution", "")
    if cell_error and "NotImplementedError" not in cell_error:
        q.note = f"running your cell raised {cell_error}"
    local = dict(namespace)
    for p in q.parts:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(p.code, f"<check {q.qid}>", "exec"), local)  # noqa: S102
        except NotAttemptedError:
            p.status, p.message = "not attempted", "still the stub: replace " \
                "`raise NotImplementedError` with your code"
        except ExerciseError as exc:
            p.status, p.message = "failed", str(exc)
        except Exception as exc:  # noqa: BLE001 - a learner's odd return value, reported
            p.status, p.message = "failed", f"{type(exc).__name__}: {exc}"
        else:
            p.status, p.score = "passed", p.points
