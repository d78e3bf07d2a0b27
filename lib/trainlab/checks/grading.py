"""Grade a learner's notebook by measuring their code, in a process they cannot reach.

How one submission is graded (:func:`grade_notebook`):

1. The lesson is recognised from the notebook's ``metadata.trainlab_homework.lesson`` (written
   by ``scripts/homework.py release``) or, failing that, from a strong match: most of the
   lesson's ``grade_id``s, or every one of its exercise functions (:func:`recognise`).
2. Only the learner's *solution cells* are taken from the submission; every check comes from
   the committed lesson (hidden cases included). Stored outputs are never read: a notebook
   that was not run is graded like one that was.
3. Each solution cell is audited (:func:`audit`) against the course's rules: a cell that
   imports or names trainlab or torch scores 0 for its question, with the reason; so does one
   using ``sys``, ``os``, ``eval``, frame or dunder introspection or NumPy file I/O. Such a cell
   is not run. The notebook's check cell runs the same audit on the same whole cell
   (:func:`trainlab.checks.cell_verdict`) and says so, so a refusal is never silent. The
   audit is a course rule ("write the code yourself"), *not* the security
   boundary: code can get past any reading of it (the red-team suite, tests/test_redteam.py,
   does so on purpose), so what keeps the grader safe is step 4.
4. Each question runs in its own fresh interpreter (``python -I -S sandbox.py``) inside the
   operating system's sandbox (:mod:`trainlab.checks.isolation`: bubblewrap, an unprivileged
   user in its own user/PID/network namespaces, only Python and NumPy visible and read-only, an
   empty private tmpfs, no process creation, rlimits), under a deadline *per question*, with
   trainlab and torch blocked and its prints discarded (:class:`Sandbox`). The child runs the
   learner's cell of that question after the committed *reference* cells of the questions it
   depends on (:meth:`Lesson.dependencies`), so a refused or looping exercise costs only its
   own points; a dependency the learner answered with full marks also runs the learner's own
   cell after its reference, so that a backward pass gets the cache of the learner's forward
   pass (its layout is the learner's choice). Without bubblewrap, grading refuses unless told
   ``unsafe=True``.
5. Every check statement of the lesson's check cells is one *part*, run here, in the grading
   process: the learner's functions are proxies that send the inputs to the child and bring
   the return values back (as plain arrays). References and comparisons never run where the
   learner's code runs, so rebinding checks, patching NumPy or reading frames in the child
   changes nothing but the learner's own answers. Each part earns its share of the question's
   points; a failing part keeps its message (with the slip's hint when one is recognised).
   A call's reply is capped (:data:`~trainlab.checks.sandbox.MAX_REPLY`).
6. With a lecturer's secret, the ``seed=`` of every hidden check is replaced by
   :func:`secret_seed` (HMAC of the secret, the lesson, the question and the committed seed),
   so hidden cases cannot be computed from the repository; their failure messages are then
   withheld unless ``show_hidden_inputs``.
7. A written answer (an nbgrader "manually graded answer" markdown cell) is not graded here:
   its text goes into the result (``manual``, ``answer``) for the feedback and the lecturer.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import functools
import hashlib
import hmac
import io
import json
import math
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

from trainlab.checks import ExerciseError, NotAttemptedError, isolation
from trainlab.checks.sandbox import MAX_REPLY, Unsendable, decode, encode, frame

SANDBOX = Path(__file__).with_name("sandbox.py")
LIBRARIES = ("trainlab", "torch")
ALLOWED_IMPORTS = ("numpy", "math", "itertools", "functools", "collections", "typing",
                   "dataclasses", "copy", "time", "abc", "enum", "numbers", "random", "heapq",
                   "bisect", "statistics", "__future__")
"""typing is allowed, but not ``get_type_hints`` nor a string annotation: typing evaluates such
strings, a way around the audit (found by a cheating-student test)."""
FORBIDDEN_NAMES = ("eval", "exec", "compile", "__import__", "open", "globals", "locals", "vars",
                   "getattr", "setattr", "delattr", "breakpoint", "input", "memoryview", "exit",
                   "quit", "__builtins__", "__loader__", "__spec__", "get_type_hints")
FORBIDDEN_ATTRS = ("f_back", "f_globals", "f_locals", "f_builtins", "f_code", "tb_frame",
                   "gi_frame", "cr_frame", "ag_frame", "load", "loadtxt", "genfromtxt", "fromfile",
                   "memmap", "DataSource", "ctypeslib", "tofile", "save", "savez", "savetxt",
                   "f2py", "distutils", "dump", "open_memmap", "fromregex", "npyio", "testing",
                   "os", "sys", "subprocess", "shutil", "builtins", "importlib", "ctypes",
                   "rmtree", "get_type_hints", "ForwardRef", "types", "inspect")
ALLOWED_DUNDERS = ("__init__", "__call__", "__name__", "__len__", "__getitem__", "__repr__")
ALLOWED_STRINGS = ("__main__",)
"""Strings that may name a dunder: the ``if __name__ == \"__main__\":`` self-test."""
OWN_OBJECTS = ("self", "cls")


class GradingError(ExerciseError):
    """The learner's code could not be called (timed out, crashed, missing)."""


class IsolationUnavailable(RuntimeError):
    """The operating system's sandbox (bubblewrap) cannot run here: grading refuses to run
    learners' code without it unless told ``unsafe=True`` (``--unsafe``)."""


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
    references: dict[str, str] = field(default_factory=dict)
    """``qid -> source`` of the committed solution cells, run in a question's child for the
    questions it depends on (see :func:`dependencies`)."""

    def dependencies(self, q: Question, learner_source: str = "") -> list[str]:
        """The other questions whose functions question ``q`` uses (its reference solution,
        the learner's cell or its checks name them), transitively, in the lesson's order.
        Their *reference* cells run before the learner's cell in ``q``'s child, so a refused
        or failing earlier exercise costs only its own points (08 ex7 uses ex1-ex4, ex6); an
        earlier exercise with full marks adds the learner's own cell after its reference."""
        owner = {f: other.qid for other in self.questions for f in other.functions}
        wanted: set[str] = set()
        todo = [learner_source, self.references.get(q.qid, ""), *(p.code for p in q.parts)]
        while todo:
            for name in _names_used(todo.pop()):
                qid = owner.get(name)
                if qid and qid != q.qid and qid not in wanted:
                    wanted.add(qid)
                    todo.append(self.references.get(qid, ""))
        return [other.qid for other in self.questions if other.qid in wanted]


def _names_used(source: str) -> set[str]:
    try:
        return {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}
    except SyntaxError:
        return set()


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
                 if c.cell_type == "code" and _grade_meta(c).get("solution")
                 and "grade_id" in _grade_meta(c)}   # written answers are prose, not code
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
                  library_names=_library_names(nb.cells),
                  references={gid.removesuffix("-solution"): src
                              for gid, src in solutions.items()})


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


@functools.lru_cache(maxsize=64)
def _lesson_keys(path: str, mtime: float) -> tuple[frozenset[str], frozenset[str]]:
    """The grade ids (solution and check cells) and exercise functions of a committed lesson."""
    lesson = load_lesson(Path(path))
    ids = {q.solution_cell for q in lesson.questions} | {f"{q.qid}-check"
                                                           for q in lesson.questions
                                                           if not q.manual}
    return frozenset(ids), frozenset(f for q in lesson.questions for f in q.functions)


def _keys(path: Path) -> tuple[frozenset[str], frozenset[str]]:
    return _lesson_keys(str(path), path.stat().st_mtime)


def recognise(nb: Any, lessons: dict[str, Path]) -> tuple[str | None, str]:
    """``(stem, how)`` of the lesson a submission belongs to, or ``(None, why not)``.

    A lesson is recognised only by strong evidence, never by one cell: the notebook metadata
    ``trainlab_homework.lesson`` written by ``release``; else at least half (and at least
    two) of the lesson's nbgrader grade ids; else code cells that define *every* exercise
    function of the lesson (the whole lesson pasted into a new notebook). A notebook of
    another course that shares a function name (``affine_forward``) or a grade id is not
    one of ours."""
    stem = (nb.get("metadata", {}).get("trainlab_homework") or {}).get("lesson")
    if stem in lessons:
        return stem, "metadata"
    gids = {str(_grade_meta(c).get("grade_id", "")) for c in nb.get("cells", [])} - {""}
    defined = {f for c in nb.get("cells", []) if c.get("cell_type") == "code"
               for f in _defined_functions(_source(c))}
    best: tuple[int, str, str] = (0, "", "")
    for name, path in lessons.items():
        ids, functions = _keys(path)
        n_ids = len(gids & ids)
        if n_ids >= max(2, (len(ids) + 1) // 2):
            return name, f"{n_ids} of its {len(ids)} grade ids"
        if functions and functions <= defined:
            return name, f"all {len(functions)} of its exercise functions"
        n_fn = len(defined & functions)
        if max(n_ids, n_fn) > best[0]:
            best = (max(n_ids, n_fn), name,
                    f"closest: {name} ({n_ids} of {len(ids)} grade ids, {n_fn} of "
                    f"{len(functions)} exercise functions)")
    why = ("not a notebook of this course: no trainlab_homework lesson in its metadata, "
           "too few of a lesson's grade ids and not all of a lesson's exercise functions"
           + (f"; {best[2]}" if best[1] else "; nothing in common with any lesson"))
    if stem:
        why += f"; its metadata names the unknown lesson {stem!r}"
    return None, why


def lesson_of(nb: Any, lessons: dict[str, Path]) -> str | None:
    """The stem of the lesson a submission belongs to (see :func:`recognise`), or None."""
    return recognise(nb, lessons)[0]


# --------------------------------------------------------------------------------------------
# Audit of a solution cell
# --------------------------------------------------------------------------------------------
def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that stand alone as a statement (docstrings, comments
    written as strings): never evaluated, so a dunder they mention (``__init__``) is harmless."""
    return {id(stmt.value) for stmt in ast.walk(tree)
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str)}


def _annotations(tree: ast.AST) -> list[ast.expr]:
    found: list[ast.expr | None] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
        elif isinstance(node, ast.arg):
            found.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(node.returns)
    return [a for a in found if a is not None]


def _private_attribute_allowed(node: ast.Attribute, own_names: bool) -> bool:
    """``self._cache`` / ``cls._registry``: a learner's own private attribute, allowed when the
    cell never rebinds ``self`` or ``cls`` (so they cannot stand for ``np``)."""
    return (own_names and isinstance(node.value, ast.Name) and node.value.id in OWN_OBJECTS
            and not node.attr.startswith("__"))


def audit(source: str) -> tuple[str, str] | None:
    """``(kind, message)`` for the first rule the cell breaks, or None.

    kind "library": it uses trainlab or torch (the exercise asks for the learner's own code);
    kind "forbidden": it uses something that could reach the grader or the disk (sys, os,
    eval, frames, private or dunder attributes such as ``np._core`` or ``__globals__``, NumPy
    file I/O, a string naming a dunder or a string annotation that ``typing`` would evaluate);
    kind "syntax": it does not parse.

    Harmless idioms pass: a class keeping ``self._cache``, ``from typing import Tuple``, a
    ``@dataclass``, an ``if __name__ == "__main__":`` self-test, ``import time`` / ``copy``,
    ``help(np.divide)`` and a docstring that mentions ``__init__``. The audit is a course rule
    (write the code yourself, NumPy and the standard helpers only); the isolation of the
    learner's code is the sandbox's job."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return "syntax", f"the cell does not parse: {exc.msg} (line {exc.lineno})"
    docstrings = _docstrings(tree)
    own_names = not any(isinstance(n, ast.Name) and n.id in OWN_OBJECTS
                        and isinstance(n.ctx, ast.Store | ast.Del) for n in ast.walk(tree))
    for ann in _annotations(tree):
        for node in ast.walk(ann):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                return "forbidden", (f"a type annotation is a string (line {node.lineno}): "
                                     f"typing evaluates such strings as code; write the type "
                                     f"itself (`x: np.ndarray`, not `x: 'np.ndarray'`)")
    for node in ast.walk(tree):
        line = getattr(node, "lineno", "?")
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
            for alias in node.names:
                if alias.name in FORBIDDEN_NAMES or alias.name in FORBIDDEN_ATTRS or \
                        alias.name.startswith("_"):
                    return "forbidden", (f"imports `{alias.name}` (line {line}), which "
                                         f"solutions may not use")
        for mod in modules:
            root = mod.split(".")[0]
            if root in LIBRARIES:
                return "library", (f"imports {mod} (line {line}): this exercise asks you to write "
                                   f"the code yourself, so a solution calling {root} scores 0")
            if root not in ALLOWED_IMPORTS:
                return "forbidden", (f"imports {mod} (line {line}): solutions may import only "
                                     f"{', '.join(m for m in ALLOWED_IMPORTS if m[0] != '_')}")
        if isinstance(node, ast.Name):
            if node.id in LIBRARIES:
                return "library", (f"uses {node.id} (line {line}): this exercise asks you to "
                                   f"write the code yourself, so calling {node.id} scores 0")
            if node.id in FORBIDDEN_NAMES:
                return "forbidden", f"uses `{node.id}` (line {line}), which solutions may not use"
        if isinstance(node, ast.Attribute):
            attr = node.attr
            if attr in FORBIDDEN_ATTRS or (attr.startswith("_") and attr not in ALLOWED_DUNDERS
                                           and not _private_attribute_allowed(node, own_names)):
                return "forbidden", f"uses `.{attr}` (line {line}), which solutions may not use"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                "__" in node.value and id(node) not in docstrings and \
                node.value not in ALLOWED_STRINGS:
            return "forbidden", (f"a string names a dunder (line {line}), a way to reach the "
                                 f"grader through code held in a string")
    return None


# --------------------------------------------------------------------------------------------
# The child process
# --------------------------------------------------------------------------------------------
class Sandbox:
    """A fresh interpreter running the learner's cells; :meth:`call` calls their functions."""

    def __init__(self, cells: list[dict[str, str]], deadline: float,
                 memory_bytes: int = 4 * 2**30, isolated: bool = True) -> None:
        self.deadline = deadline
        self.dead = ""
        self.isolated = isolated
        self.workdir: Path | None = None
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "LC_ALL": "C.UTF-8"}
        fds = [to_child_r, from_child_w]
        if isolated:
            why = isolation.problem()
            if why:
                for fd in (*fds, self._to_child, self._from_child):
                    os.close(fd)
                raise IsolationUnavailable(why)
            seccomp = isolation.seccomp_pipe()
            if seccomp is not None:
                fds.append(seccomp)
            cpu = max(1, math.ceil(deadline - time.monotonic())) + 2
            argv = isolation.command(memory_bytes, cpu, seccomp, SANDBOX,
                                     [str(to_child_r), str(from_child_w)],
                                     tag=os.environ.get("TRAINLAB_SANDBOX_TAG", ""))
            cwd = None
        else:
            self.workdir = Path(tempfile.mkdtemp(prefix="trainlab-grade-"))
            env["HOME"] = str(self.workdir)
            argv = [sys.executable, "-I", str(SANDBOX), str(to_child_r), str(from_child_w)]
            cwd = self.workdir
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, pass_fds=fds,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        for fd in fds:
            os.close(fd)
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
        if size > MAX_REPLY:
            self._fail(f"your function returned more than the grader accepts "
                       f"({_mib(MAX_REPLY)} per call)")
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
                try:
                    code = self.proc.wait(timeout=1)
                except subprocess.TimeoutExpired:
                    code = None
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
        blobs, total = [], size
        for _ in range(count):
            length = struct.unpack("<Q", self._read(8))[0]
            total += length
            if total > MAX_REPLY:
                self._fail(f"your function returned more than {_mib(MAX_REPLY)} of data in "
                           f"one call (the grader's limit)")
            blobs.append(self._read(length))
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
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _mib(n: int) -> str:
    return f"{n / 2**20:g} MiB"


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
    hidden_cases: str = "public"
    """"secret": the hidden cases were drawn from the lecturer's secret; "public": from the
    seeds committed in the lessons (anyone can compute them)."""

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
"""The longest solution cell the grader runs, in UTF-8 bytes (characters, for ASCII code; the
capstone's layer library, the largest, is about 6,000): trained weights pasted in as literals
(or as an encoded string) do not fit."""


def _too_long(source: str) -> tuple[str, str] | None:
    size = len(source.encode("utf-8"))   # bytes: one CJK character carries 2 bytes of data
    if size <= MAX_SOLUTION_CHARS:
        return None
    return "forbidden", (f"the cell holds {size:,} bytes (UTF-8), over the grader's limit of "
                         f"{MAX_SOLUTION_CHARS:,}: write code, not data (no pasted weights)")


def _missing_message(q: Question) -> str:
    names = ", ".join(f"`{f}`" for f in q.functions) or "the exercise's code"
    return (f"no solution cell for {q.qid}: the notebook has no cell with nbgrader grade_id "
            f"'{q.solution_cell}' and no code cell defining {names}; write your answer in "
            f"the exercise's cell of the student notebook")


def secret_seed(secret: bytes, lesson: str, qid: str, seed: int) -> int:
    """The seed a hidden case ``seed=`` of question ``qid`` really uses when grading with the
    lecturer's ``secret``: HMAC-SHA256(secret, "lesson/qid/seed") as an int in [0, 2**31).
    The committed seeds stay in the lessons (the notebook's own checks use them); without the
    secret nobody can compute the cases, so an answer table made from the public seeds fails."""
    digest = hmac.new(secret, f"{lesson}/{qid}/{int(seed)}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "little") % 2**31


class _SecretSeeds(ast.NodeTransformer):
    """``check(f, seed=E)`` -> ``check(f, seed=_hidden_seed(E))``."""

    def visit_Call(self, node: ast.Call) -> ast.Call:
        self.generic_visit(node)
        for kw in node.keywords:
            if kw.arg == "seed":
                kw.value = ast.Call(ast.Name("_hidden_seed", ast.Load()), [kw.value], [])
        return node


def _with_secret_seeds(code: str) -> str:
    return ast.unparse(ast.fix_missing_locations(_SecretSeeds().visit(ast.parse(code))))


WITHHELD = ("failed on a hidden case (its inputs are not shown: the hidden cases are drawn from "
            "the lecturer's secret; the notebook's visible checks show how such a case is built)")


def grade_notebook(nb: Any, lesson: Lesson, student: str = "", path: str = "",
                   timeout: float = 60.0, *, secret: bytes | None = None,
                   show_hidden_inputs: bool = False, unsafe: bool = False) -> Submission:
    """Grade the learner's notebook ``nb`` (a dict as read by nbformat) against ``lesson``.

    Each question runs in its own fresh child (:class:`Sandbox`) with ``timeout`` seconds
    (per exercise): its learner cell, after the *reference* cells of the questions it depends
    on (each followed by the learner's own cell of that question when it scored full marks,
    graded before in the lesson's order). With ``secret``, hidden cases use
    :func:`secret_seed` and a failing hidden case's message is withheld unless
    ``show_hidden_inputs``. ``unsafe``: run the learner's code in a plain child process when
    the operating system's sandbox is not available (see :mod:`trainlab.checks.isolation`);
    otherwise :class:`IsolationUnavailable` is raised."""
    if not unsafe and isolation.problem():
        raise IsolationUnavailable(isolation.problem())
    start = time.monotonic()
    sub = Submission(student=student, path=path, lesson=lesson.stem,
                     questions=[Question(q.qid, q.points, q.title, list(q.functions),
                                         [Part(p.label, p.code, p.hidden, p.points)
                                          for p in q.parts], q.solution_cell, manual=q.manual)
                                for q in lesson.questions],
                     hidden_cases="secret" if secret else "public")
    answers = written_answers(nb)
    for q in sub.questions:
        if q.manual:
            q.answer = answers.get(q.qid, "")
            q.note = "" if q.answer else "no written answer: the cell still says YOUR ANSWER HERE" \
                if q.qid in answers else f"no written-answer cell '{q.qid}' in the notebook"
    sources, refused = {}, {}
    solutions = _solution_cells(nb, sub.questions)
    for q in sub.questions:
        if q.solution_cell not in solutions and not q.manual:
            refused[q.qid] = ("missing", _missing_message(q))
    for gid, source in solutions.items():
        verdict = audit(source) or uses_lesson_library(source, lesson.library_names) or \
            _too_long(source)
        if verdict is None:
            sources[gid.removesuffix("-solution")] = source
        else:
            refused[gid.removesuffix("-solution")] = ("refused", verdict[1])
    namespace: dict[str, Any] = {"np": np}
    exec(lesson.setup, namespace)  # noqa: S102 - the committed lesson's own imports
    namespace["passed"] = lambda *a, **k: None
    names = {f for q in sub.questions for f in q.functions}
    full_marks: set[str] = set()
    for q in sub.questions:
        if q.manual:
            continue
        if q.qid in refused:
            _refuse(q, *refused[q.qid])
            continue
        if _is_stub(sources.get(q.qid, "")):
            _refuse(q, "not attempted", NOT_ATTEMPTED)
            q.note = ""
            continue
        deps = lesson.dependencies(q, sources.get(q.qid, ""))
        # with the learner's own cells of the dependencies that scored full marks (a backward
        # pass reads the cache of the learner's forward pass, "whatever your backward needs",
        # which the reference's layout would not fit); if that loses points, again with the
        # references alone, and the better of the two counts
        own = [d for d in deps if d in full_marks and d in sources]
        _run_question(q, lesson, deps, own, sources, names, namespace, timeout, secret,
                      show_hidden_inputs, unsafe)
        if own and any(p.status != "passed" for p in q.parts):
            first = (copy.deepcopy(q.parts), q.note)
            for p in q.parts:
                p.score, p.status, p.message = 0.0, "not run", ""
            q.note = ""
            _run_question(q, lesson, deps, [], sources, names, namespace, timeout, secret,
                          show_hidden_inputs, unsafe)
            if sum(p.score for p in first[0]) >= q.score:
                q.parts, q.note = first
        if q.parts and all(p.status == "passed" for p in q.parts):
            full_marks.add(q.qid)
    sub.seconds = time.monotonic() - start
    return sub


def _run_question(q: Question, lesson: Lesson, deps: list[str], own: list[str],
                  sources: dict[str, str], names: set[str], namespace: dict[str, Any],
                  timeout: float, secret: bytes | None, show_hidden_inputs: bool,
                  unsafe: bool) -> None:
    """Grade ``q`` in one fresh child: the reference cells of ``deps`` (each followed by the
    learner's own cell when it is in ``own``), then the learner's cell of ``q``."""
    cells = []
    for d in deps:
        if d in lesson.references:
            cells.append({"qid": f"{d}-reference", "source": lesson.references[d]})
        if d in own:
            cells.append({"qid": f"{d}-learner", "source": sources[d]})
    if q.qid in sources:
        cells.append({"qid": q.solution_cell, "source": sources[q.qid]})
    try:
        sandbox = Sandbox(cells, deadline=time.monotonic() + timeout, isolated=not unsafe)
    except GradingError as exc:
        for p in q.parts:
            p.status, p.message = "error", str(exc)
        q.note = str(exc)
        return
    try:
        local = dict(namespace)
        local.update({name: StudentFunction(sandbox, name) for name in names})
        if secret:
            local["_hidden_seed"] = lambda seed, qid=q.qid: secret_seed(
                secret, lesson.stem, qid, seed)
        _grade_question(q, local, sandbox, secret, show_hidden_inputs)
    finally:
        sandbox.close()


NOT_ATTEMPTED = "still the stub: replace `raise NotImplementedError` with your code"


def _is_stub(source: str) -> bool:
    """True for a cell made only of functions whose body is the released stub (a docstring,
    then ``raise NotImplementedError(...)``), or of classes (08's ``FullyConnectedNet``,
    ``Solver``) holding only a docstring and such methods: graded "not attempted" without
    starting a child."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    return bool(body) and all(_is_stub_definition(node) for node in body)


def _is_stub_definition(node: ast.stmt) -> bool:
    if isinstance(node, ast.ClassDef):
        members = node.body[1:] if ast.get_docstring(node) is not None else node.body
        return not node.bases and not node.keywords and not node.decorator_list and \
            bool(members) and all(isinstance(m, ast.FunctionDef) and _is_stub_definition(m)
                                  for m in members)
    if not isinstance(node, ast.FunctionDef) or node.decorator_list:
        return False
    stmts = node.body[1:] if ast.get_docstring(node) is not None else node.body
    if len(stmts) != 1 or not isinstance(stmts[0], ast.Raise):
        return False
    exc = stmts[0].exc
    name = exc.func if isinstance(exc, ast.Call) else exc
    return isinstance(name, ast.Name) and name.id == "NotImplementedError"


def _refuse(q: Question, status: str, message: str) -> None:
    for p in q.parts:
        p.status, p.message = status, message
    q.note = message


def _grade_question(q: Question, local: dict[str, Any], sandbox: Sandbox,
                    secret: bytes | None = None, show_hidden_inputs: bool = False) -> None:
    cell_error = sandbox.errors.get(f"{q.qid}-solution", "")
    if cell_error and "NotImplementedError" not in cell_error:
        q.note = f"running your cell raised {cell_error}"
    for p in q.parts:
        code = _with_secret_seeds(p.code) if secret and p.hidden else p.code
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(code, f"<check {q.qid}>", "exec"), local)  # noqa: S102
        except NotAttemptedError:
            p.status, p.message = "not attempted", NOT_ATTEMPTED
        except ExerciseError as exc:
            p.status, p.message = "failed", str(exc)
        except Exception as exc:  # noqa: BLE001 - a learner's odd return value, reported
            p.status, p.message = "failed", f"{type(exc).__name__}: {exc}"
        else:
            p.status, p.score = "passed", p.points
        if p.status == "failed" and p.hidden and secret and not show_hidden_inputs:
            p.message = WITHHELD
