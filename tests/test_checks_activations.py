"""trainlab.checks.activations (lesson 01, the assignment track's first layers): the lesson's
solutions pass, common slips fail with their hint, stubs are "not attempted"."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trainlab import activations
from trainlab.checks import ExerciseError, NotAttemptedError
from trainlab.checks import activations as chk

LESSON = Path(__file__).resolve().parents[1] / "notebooks" / "01_activations.ipynb"


@pytest.fixture(scope="module")
def sol() -> dict:
    ns: dict = {"np": np}
    for cell in json.loads(LESSON.read_text(encoding="utf-8"))["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("solution") and cell["cell_type"] == "code":
            exec("".join(cell["source"]), ns)  # noqa: S102 - the committed lesson
    return ns


def stub(*args: object) -> object:
    raise NotImplementedError


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_the_lessons_solutions_pass(sol, seed: int) -> None:
    chk.check_affine(sol["affine_forward"], sol["affine_backward"], seed=seed)
    for kind in chk.LAYERS:
        chk.check_activation_layer(sol[f"{kind}_forward"], sol[f"{kind}_backward"], kind,
                                   seed=seed, shape=(3, 4, 2))
    chk.check_maxout(sol["maxout_forward"], sol["maxout_backward"], seed=seed, pieces=2 + seed % 3)


def test_the_helpers_of_the_lesson_pass_the_maxout_check() -> None:
    # the exercise uses the layout of trainlab.activations.maxout_forward: (D_in, D_out, k)
    chk.check_maxout(activations.maxout_forward, activations.maxout_backward, seed=3)


def test_a_pieces_first_maxout_layout_fails(sol) -> None:
    def pieces_first(x, w, b):              # the old exercise's (k, D, H) layout
        z = np.einsum("nd,kdh->knh", x, w) + b[:, None, :]
        return z.max(0), None

    with pytest.raises(ExerciseError):
        chk.check_maxout(pieces_first, sol["maxout_backward"])


@pytest.mark.parametrize("kind, forward, backward, hint", [
    ("sigmoid", lambda x: (1 / (1 + np.exp(-x)), x), lambda d, x: d * x * (1 - x),
     "not x\\(1 - x\\)"),
    ("sigmoid", lambda x: (1 / (1 + np.exp(-x)), 1 / (1 + np.exp(-x))),
     lambda d, s: s * (1 - s), "upstream gradient"),
    ("tanh", lambda x: (np.tanh(x), x), lambda d, x: d * (1 - x * x), "not 1 - x\\^2"),
    ("relu", lambda x: (np.maximum(x, 0), x), lambda d, x: (x > 0).astype(float), "0/1 gate"),
    ("leaky_relu", lambda x, a: (np.maximum(x, 0), x), lambda d, x: d, "plain ReLU"),
    ("leaky_relu", lambda x, a: (np.where(x > 0, x, a * x), x),
     lambda d, x: np.where(x > 0, d, 0.0), "ReLU's backward"),
])
def test_activation_slips_get_their_hints(kind, forward, backward, hint) -> None:
    with pytest.raises(ExerciseError, match=hint):
        chk.check_activation_layer(forward, backward, kind, alpha=0.1)


def test_affine_and_maxout_slips(sol) -> None:
    with pytest.raises(ExerciseError, match="sums dout"):
        chk.check_affine(sol["affine_forward"], lambda d, c: (d @ c[1].T, c[0].T @ d, d.mean(0)))
    with pytest.raises(ExerciseError, match="add the bias"):
        chk.check_affine(lambda x, w, b: (x @ w, (x, w)), sol["affine_backward"])

    def every_piece(dout, cache):
        x, w, _ = cache
        dz = np.broadcast_to(dout[..., None], dout.shape + (w.shape[2],))
        return np.einsum("njp,ijp->ni", dz, w), np.einsum("ni,njp->ijp", x, dz), dz.sum(0)

    with pytest.raises(ExerciseError, match="winning piece"):
        chk.check_maxout(sol["maxout_forward"], every_piece)


def test_in_place_changes_and_stubs(sol) -> None:
    def in_place(x):
        np.maximum(x, 0, out=x)
        return x, x > 0

    with pytest.raises(ExerciseError, match="in place"):
        chk.check_activation_layer(in_place, sol["relu_backward"], "relu")
    with pytest.raises(NotAttemptedError):
        chk.check_activation_layer(stub, stub, "tanh")
    with pytest.raises(NotAttemptedError):
        chk.check_affine(sol["affine_forward"], stub)
    with pytest.raises(NotAttemptedError):
        chk.check_maxout(stub, stub)


def test_bad_arguments_are_refused(sol) -> None:
    with pytest.raises(ValueError, match="kind must be"):
        chk.check_activation_layer(sol["relu_forward"], sol["relu_backward"], "elu")
    with pytest.raises(ValueError, match="seed must be"):
        chk.check_activation_layer(sol["relu_forward"], sol["relu_backward"], "relu", seed=-1)
    with pytest.raises(ValueError, match="shape must be"):
        chk.check_activation_layer(sol["relu_forward"], sol["relu_backward"], "relu",
                                   shape=(0, 3))
    with pytest.raises(ExerciseError, match="tuple of 2"):
        chk.check_activation_layer(lambda x: np.tanh(x), sol["tanh_backward"], "tanh")
