"""The gradient checker itself: it must accept correct gradients and catch wrong ones."""

import numpy as np
import pytest

from trainlab.gradcheck import (
    check_layer,
    numeric_gradient,
    numeric_gradient_array,
    rel_error,
)


def affine_forward(x, w):
    return x @ w, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout


def test_rel_error_is_zero_for_equal_and_one_for_opposite():
    x = np.array([1.0, -2.0, 3.0])
    assert rel_error(x, x) == 0.0
    assert rel_error(x, -x) == pytest.approx(1.0)


def test_rel_error_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        rel_error(np.zeros(3), np.zeros(4))


def test_numeric_gradient_of_a_quadratic_matches_the_formula():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 4))
    a = a @ a.T
    x = rng.standard_normal(4)
    grad = numeric_gradient(lambda z: 0.5 * z @ a @ z, x.copy())
    assert rel_error(grad, a @ x) < 1e-8


def test_numeric_gradient_restores_its_input():
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    before = x.copy()
    numeric_gradient(lambda z: float(np.sum(z**2)), x)
    np.testing.assert_array_equal(x, before)


def test_numeric_gradient_array_is_the_vector_jacobian_product():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5))
    dout = rng.standard_normal((3, 5))
    grad = numeric_gradient_array(np.tanh, x, dout)
    assert rel_error(grad, dout * (1 - np.tanh(x) ** 2)) < 1e-8


def test_numeric_gradient_needs_float64():
    with pytest.raises(TypeError, match="float64"):
        numeric_gradient(np.sum, np.ones(3, dtype=np.float32))


def test_check_layer_passes_a_correct_backward_and_prints_a_table():
    rng = np.random.default_rng(2)
    report = check_layer(affine_forward, affine_backward,
                         {"x": rng.standard_normal((4, 3)), "w": rng.standard_normal((3, 2))})
    assert report.passed
    assert set(report.errors) == {"x", "w"}
    table = report.table()
    assert "x" in table and "w" in table and "WRONG" not in table


def test_check_layer_catches_a_wrong_backward():
    def wrong_backward(dout, cache):
        dx, dw = affine_backward(dout, cache)
        return dx, 0.5 * dw

    rng = np.random.default_rng(3)
    report = check_layer(affine_forward, wrong_backward,
                         {"x": rng.standard_normal((4, 3)), "w": rng.standard_normal((3, 2))})
    assert not report.passed
    assert report.errors["x"] < 1e-7 < report.errors["w"]
    assert "WRONG" in report.table()


def test_check_layer_accepts_dict_and_single_array_gradients():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 3))
    report = check_layer(lambda x: (np.tanh(x), x),
                         lambda d, x: d * (1 - np.tanh(x) ** 2), {"x": x})
    assert report.passed
    report = check_layer(affine_forward,
                         lambda d, c: dict(zip(("x", "w"), affine_backward(d, c), strict=True)),
                         {"x": x, "w": rng.standard_normal((3, 2))})
    assert report.passed


def test_check_layer_complains_when_gradients_are_missing():
    rng = np.random.default_rng(5)
    with pytest.raises(ValueError, match="gradients"):
        check_layer(affine_forward, lambda d, c: (d,),
                    {"x": rng.standard_normal((2, 2)), "w": rng.standard_normal((2, 2))})
