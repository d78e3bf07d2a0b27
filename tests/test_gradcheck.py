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


# --------------------------------------------------------------------------------------------
# No false alarms (issue 19): the verdict must be right for any random input
# --------------------------------------------------------------------------------------------

from trainlab import norm  # noqa: E402
from trainlab.gradcheck import default_dout  # noqa: E402


def bn_without_mean_term(dout, cache):
    """A classic slip: dx = gamma inv_std (dout - x_hat mean(dout x_hat)), the term
    -mean(dout) (the gradient through mu) forgotten."""
    dx, dgamma, dbeta = norm.batchnorm_backward(dout, cache)
    return dx + dout.mean(axis=0) * cache["gamma"] * cache["inv_std"], dgamma, dbeta


def random_bn_inputs(seed):
    rng = np.random.default_rng(seed)
    return {"x": rng.normal(1.0, 2.0, size=(8, 5)), "gamma": rng.standard_normal(5),
            "beta": rng.standard_normal(5)}


def test_correct_batchnorm_backward_is_never_called_wrong_on_200_random_inputs():
    false_alarms = [s for s in range(200) if not check_layer(
        norm.batchnorm_forward, norm.batchnorm_backward, random_bn_inputs(s)).passed]
    assert false_alarms == []


def test_batchnorm_without_the_mean_term_is_always_flagged():
    for s in range(50):
        report = check_layer(norm.batchnorm_forward, bn_without_mean_term, random_bn_inputs(s))
        assert report.errors["x"] > 1e-3 and report.errors["gamma"] < 1e-7, report.table()


@pytest.mark.parametrize("layer", ["batchnorm", "layernorm"])
def test_learner_drawing_x_with_seed_0_gets_an_independent_dout(layer):
    """The issue's case: x from default_rng(0) used to equal the default dout (seed 0), the
    true dx was ~0 and the report said 1.9e-3 WRONG."""
    x = np.random.default_rng(0).standard_normal((4, 5))
    forward, backward = getattr(norm, f"{layer}_forward"), getattr(norm, f"{layer}_backward")
    inputs = {"x": x, "gamma": np.ones(5), "beta": np.zeros(5)}
    assert not np.allclose(default_dout(x.shape, 0), x)
    report = check_layer(forward, backward, inputs)
    assert report.passed, report.table()
    assert report.max_error < 1e-8


@pytest.mark.parametrize("layer", ["batchnorm", "layernorm"])
def test_a_gradient_that_is_zero_up_to_round_off_passes_and_the_report_says_why(layer):
    """With dout = x the true dx of a normalisation is 0 up to eps: entries of the numeric
    gradient are round-off, the report compares them absolutely and says so."""
    x = np.random.default_rng(0).standard_normal((4, 5))
    forward, backward = getattr(norm, f"{layer}_forward"), getattr(norm, f"{layer}_backward")
    inputs = {"x": x, "gamma": np.ones(5), "beta": np.zeros(5)}
    report = check_layer(forward, backward, inputs, dout=x)
    assert report.passed, report.table()
    assert "round-off" in report.table() and "* x" in report.table()
    if layer == "batchnorm":
        wrong = check_layer(forward, bn_without_mean_term, inputs, dout=x)
        assert not wrong.passed and "WRONG" in wrong.table()


def test_no_false_alarm_for_badly_scaled_inputs():
    for loc, scale in ((0.0, 1e-3), (0.0, 1e3), (100.0, 0.01), (1e4, 1.0)):
        for s in range(10):
            rng = np.random.default_rng(s)
            inputs = {"x": rng.normal(loc, scale, (8, 5)), "gamma": rng.standard_normal(5),
                      "beta": rng.standard_normal(5)}
            for layer in ("batchnorm", "layernorm"):
                report = check_layer(getattr(norm, f"{layer}_forward"),
                                     getattr(norm, f"{layer}_backward"), inputs, seed=s)
                assert report.passed, (loc, scale, s, layer, report.table())


def test_explain_states_the_measure_and_the_tolerance():
    report = check_layer(norm.batchnorm_forward, norm.batchnorm_backward, random_bn_inputs(0))
    text = report.explain()
    assert "whole gradient" in text and "1e-07" in text and report.table() in text


def test_check_layer_rejects_a_dout_of_the_wrong_shape_and_a_bad_tol():
    with pytest.raises(ValueError, match="dout"):
        check_layer(norm.batchnorm_forward, norm.batchnorm_backward, random_bn_inputs(0),
                    dout=np.ones((2, 2)))
    with pytest.raises(ValueError, match="tol"):
        check_layer(norm.batchnorm_forward, norm.batchnorm_backward, random_bn_inputs(0), tol=0)


def test_rel_error_over_the_whole_array_ignores_entries_that_are_round_off():
    a = np.array([1.0, 2.0, 1e-9])
    b = np.array([1.0, 2.0, -1e-9])
    assert rel_error(a, b) == pytest.approx(1.0)
    assert rel_error(a, b, per_entry=False) < 1e-9
    assert rel_error(a, -a, per_entry=False) == pytest.approx(1.0)
    assert rel_error(np.zeros(3), np.zeros(3), per_entry=False) == 0.0
    big = np.array([1e308, -1e308])
    assert rel_error(big, big * (1 - 1e-12), per_entry=False) < 1e-11
    assert np.isnan(rel_error(np.array([np.nan]), np.ones(1), per_entry=False))
    assert rel_error(np.array([np.inf]), np.ones(1), per_entry=False) == 1.0


def test_numeric_gradient_divides_by_the_step_as_stored():
    """At |x| = 1e4 the nominal step 2h = 2e-6 is stored with a relative error ~1e-6."""
    x = np.array([1e4 + 0.3])
    grad = numeric_gradient(lambda z: float(3.0 * z[0]), x)
    assert abs(grad[0] - 3.0) < 1e-9
