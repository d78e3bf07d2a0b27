"""Automatic checks for the lessons' graded exercises (their *Exercises* sections).

One module per lesson (``checks.activations``, ``checks.init``, ...). Every check calls the
learner's function on *fresh* random inputs and compares it with trainlab's reference, so a
printed number cannot pass it. A failed check raises :class:`ExerciseError` (an
``AssertionError``) whose message says what was expected and, where a common slip explains
the difference, which slip it looks like.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from trainlab.gradcheck import rel_error


class ExerciseError(AssertionError):
    """An exercise gave a wrong answer; the message says how to fix it."""


class NotAttemptedError(ExerciseError):
    """The exercise still holds the stub (it raised NotImplementedError)."""


_REFUSALS: dict[str, str] = {}
"""What the grader's audit would refuse in the functions checked since the last
:func:`passed`, by function name."""


def call_student(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the learner's function, turning a stub's NotImplementedError into a clear message.

    The function's source also goes through the grader's audit
    (:func:`trainlab.checks.grading.audit`); what it would refuse is reported by
    :func:`passed`, so a correct answer the grader scores 0 does not look finished."""
    if not callable(fn):
        raise ExerciseError(f"expected a function, got {type(fn).__name__}")
    _note_refusal(fn)
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as exc:
        raise NotAttemptedError(
            f"{getattr(fn, '__name__', 'the function')} is not implemented yet: replace "
            "`raise NotImplementedError()` with your code") from exc


def expect_close(got: Any, expected: Any, what: str, *, tol: float = 1e-6,
                 hints: dict[str, Any] | None = None) -> None:
    """Raise ExerciseError unless ``got`` matches ``expected`` (relative error < tol).

    ``hints`` maps a message to an array a common mistake would produce; when ``got`` matches
    one of them, that message is added, so the learner learns which slip they made.
    """
    got_arr = np.asarray(got, dtype=np.float64)
    exp_arr = np.asarray(expected, dtype=np.float64)
    if got_arr.shape != exp_arr.shape:
        raise ExerciseError(f"{what}: expected shape {exp_arr.shape}, got {got_arr.shape}")
    if not np.all(np.isfinite(got_arr)):
        raise ExerciseError(f"{what}: the result contains nan or inf")
    err = rel_error(got_arr, exp_arr)
    if err < tol:
        return
    message = f"{what}: relative error {err:.1e} against the reference (tolerance {tol:.0e})"
    for hint, wrong in (hints or {}).items():
        wrong_arr = np.asarray(wrong, dtype=np.float64)
        if wrong_arr.shape == got_arr.shape and rel_error(got_arr, wrong_arr) < tol:
            message += f". Hint: {hint}"
            break
    raise ExerciseError(message)


_CELL_FILE = re.compile(r"(ipykernel_\d+[/\\]\d+\.py|<ipython-input-[^>]*>)$")
"""The file name IPython gives a notebook cell's code (ipykernel: ``/tmp/ipykernel_<pid>/<n>.py``;
a terminal IPython: ``<ipython-input-k-...>``): linecache holds the whole cell under it."""

_FIX = {"library": "write that part yourself with NumPy: the exercise is the code trainlab has",
        "forbidden": "rewrite that line with NumPy and the allowed modules (see the rules above "
                     "the exercises)"}


def _code_of(fn: Any) -> Any:
    """The code object of ``fn`` (a function, a method, or a class's first method)."""
    fn = getattr(fn, "__func__", fn)
    if hasattr(fn, "__code__"):
        return fn.__code__
    if isinstance(fn, type):
        for value in vars(fn).values():
            value = getattr(value, "__func__", value)
            if hasattr(value, "__code__"):
                return value.__code__
    return None


def _library_names(fn: Any) -> list[str]:
    """Names of the notebook's namespace bound to trainlab or torch (``ridge`` after
    ``from trainlab import ridge``): the grader refuses a solution cell that uses them."""
    import types

    names = []
    for name, value in (getattr(getattr(fn, "__func__", fn), "__globals__", None) or {}).items():
        if isinstance(value, types.ModuleType):
            where = value.__name__
        elif isinstance(value, type | types.FunctionType | types.BuiltinFunctionType):
            where = str(getattr(value, "__module__", "") or "")
        else:
            continue
        if where.split(".")[0] in ("trainlab", "torch"):
            names.append(name)
    return names


def cell_verdict(fn: Any) -> tuple[str, str] | None:
    """What the grader's audit says about the notebook cell that defines ``fn``: ``(kind,
    message)`` with the cell's line, or None when it would run it. The grader audits the
    whole solution cell (imports and code outside the function included), so this does too;
    None as well when ``fn`` was not written in a notebook cell."""
    import linecache

    from trainlab.checks.grading import audit, uses_lesson_library

    code = _code_of(fn)
    if code is None or not _CELL_FILE.search(code.co_filename):
        return None
    source = "".join(linecache.getlines(code.co_filename))
    if not source:
        return None
    found = audit(source) or uses_lesson_library(source, _library_names(fn))
    if found is None or found[0] == "syntax":
        return None
    return found[0], re.sub(r"\(line (\d+)\)", r"(line \1 of its cell)", found[1])


def _note_refusal(fn: Callable[..., Any]) -> None:
    import inspect
    import textwrap

    from trainlab.checks.grading import audit

    name = getattr(fn, "__name__", "the function")
    module = str(getattr(fn, "__module__", None) or "")
    if name in _REFUSALS or module.split(".")[0] in ("trainlab", "torch", "numpy"):
        return
    code = _code_of(fn)
    if code is not None and _CELL_FILE.search(code.co_filename):
        verdict = cell_verdict(fn)
        if verdict is not None:
            _REFUSALS[name] = f"the cell defining {name} {verdict[1]}. To fix: {_FIX[verdict[0]]}"
        return
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return
    found = audit(source)
    if found is not None and found[0] != "syntax":
        _REFUSALS[name] = re.sub(r"\(line (\d+)\)", r"(line \1 counting from its def)",
                                 found[1]) + ". Rewrite that line with NumPy and math only " \
            "(see the rules above the exercises)"


def passed(name: str) -> None:
    """Print the one line a passing check shows, and a warning for each checked function whose
    cell the grader would refuse (it scores such an exercise 0, however right the answer):
    what the grader will do, the line and how to fix it."""
    print(f"✓ {name}: all checks passed")
    for fn_name, why in _REFUSALS.items():
        if why.startswith("the cell defining"):
            print(f"⚠ but the grader will score it 0 (it will not run that cell): {why}.")
        else:
            print(f"⚠ but the grader will score it 0: {fn_name} {why}.")
    _REFUSALS.clear()


def seeded_rng(seed: Any) -> np.random.Generator:
    """The generator a check draws its fresh inputs from; ``seed`` must be an int >= 0."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return np.random.default_rng(int(seed))


def shape_arg(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Validate a check's ``shape`` argument: a non-empty tuple of positive ints."""
    if not isinstance(shape, tuple) or not shape or \
            not all(isinstance(s, int) and s >= 1 for s in shape):
        raise ValueError(f"shape must be a non-empty tuple of positive ints, got {shape!r}")
    return shape


def result_tuple(result: Any, n: int, what: str) -> tuple[Any, ...]:
    """The learner's result as a tuple of ``n`` values, or an ExerciseError saying what came."""
    if not isinstance(result, tuple | list) or len(result) != n:
        got = f"a {type(result).__name__} of length {len(result)}" \
            if isinstance(result, tuple | list) else type(result).__name__
        raise ExerciseError(f"{what} must return a tuple of {n} values, got {got}")
    return tuple(result)
