"""Automatic checks for the lessons' "check yourself" exercises.

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
    """A check yourself exercise gave a wrong answer; the message says how to fix it."""


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


def _note_refusal(fn: Callable[..., Any]) -> None:
    import inspect
    import textwrap

    from trainlab.checks.grading import audit

    name = getattr(fn, "__name__", "the function")
    module = str(getattr(fn, "__module__", None) or "")
    if name in _REFUSALS or module.split(".")[0] in ("trainlab", "torch", "numpy"):
        return
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return
    found = audit(source)
    if found is not None and found[0] != "syntax":
        _REFUSALS[name] = re.sub(r"\(line (\d+)\)", r"(line \1 counting from its def)",
                                 found[1])


def passed(name: str) -> None:
    """Print the one line a passing check shows, and a warning for each checked function whose
    code the grader would refuse (it scores such an exercise 0, however right the answer)."""
    print(f"✓ {name}: all checks passed")
    for fn_name, why in _REFUSALS.items():
        print(f"⚠ but the grader will score it 0: {fn_name} {why}. Rewrite that line with NumPy "
              "and math only (see the rules above the exercises).")
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
