"""Property-based fuzzing (hypothesis) of trainlab's public functions: shapes, dtypes, odd values.

Every call either returns a correct result -- right shape and dtype, finite wherever the input
is finite, and the layer's defining property (e.g. training-mode batch norm gives mean 0 and
variance 1 per non-constant feature) -- or raises a ValueError/TypeError whose message names
the offending argument. Never an IndexError/KeyError/ZeroDivisionError/AttributeError from
deep inside, never a NaN created from finite input.

Decided behaviour for the edge cases (the same everywhere in a module):

* NumPy layers (activations, affine, norms, dropout) accept float32/float64 (ints and bools
  become float64) and reject float16, complex, object and string arrays with a TypeError naming
  the argument. A finite input whose statistics overflow (|x| ~ 1e20 in float32, ~1e154 in
  float64) is a ValueError naming x instead of an all-zero output.
* NaN/inf INPUTS to the NumPy layers propagate, as in torch: they stay confined to the entries
  (elementwise layers) or the features (batch norm) they touch; the rest stays finite.
* Preprocessing (fitted statistics) refuses nan/inf data with a ValueError naming the argument:
  one NaN would poison the statistics applied to every later example.
* ``rel_error`` is in [0, 1]: equal entries (equal infinities too) give 0, an infinity against
  anything else 1, and a NaN entry gives NaN (so ``rel_error(...) < tol`` fails).
* Plots draw non-finite values as markers or leave them out, and reject arrays that cannot be
  plotted (complex, strings, non-finite data coordinates) with an error naming the argument.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from trainlab import activations as A  # noqa: E402
from trainlab import data, dropout, gradcheck, init, layers, norm, plots, preprocess  # noqa: E402

FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
FEW = settings(max_examples=12, deadline=None, derandomize=True,
               suppress_health_check=[HealthCheck.too_slow])

FLOATS = st.sampled_from([np.float32, np.float64])
BAD_DTYPES = [np.float16, np.complex128, np.object_, np.str_]
ELEMENTWISE = {name: pair for name, pair in A._LAYERS.items()}


def finite_arrays(dtype, shape, bound: float = 1e6):
    """Arrays of ``shape`` with finite entries in [-bound, bound]."""
    width = 32 if dtype == np.float32 else 64
    bound = float(np.float32(bound)) if width == 32 else bound
    return hnp.arrays(dtype, shape, elements=st.floats(-bound, bound, width=width,
                                                       allow_subnormal=False))


@st.composite
def float_array(draw, min_dims=0, max_dims=4, min_side=0, max_side=5, bound=1e6):
    dtype = draw(FLOATS)
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                                  max_side=max_side))
    return draw(finite_arrays(dtype, shape, bound))


def _bad_array(dtype, shape=(3, 2)) -> np.ndarray:
    if dtype is np.str_:
        return np.full(shape, "a")
    if dtype is np.object_:
        return np.full(shape, None, dtype=object)
    return np.ones(shape, dtype=dtype)


def _names(name: str) -> str:
    """A regex matching ``name`` as a word (the argument the message must name)."""
    return rf"(?<![\w.]){name}\b"


# --------------------------------------------------------------------------------------------
# activations
# --------------------------------------------------------------------------------------------

@FUZZ
@given(name=st.sampled_from(sorted(ELEMENTWISE)), x=float_array(bound=1e30))
def test_elementwise_activations_keep_shape_dtype_and_finiteness(name, x):
    forward, backward = ELEMENTWISE[name]
    out, cache = forward(x)
    out = np.asarray(out)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert np.isfinite(out).all()
    (dx,) = backward(np.ones_like(out), cache)
    assert dx.shape == x.shape and np.isfinite(dx).all()


@FUZZ
@given(name=st.sampled_from(sorted(ELEMENTWISE)),
       x=hnp.arrays(st.sampled_from([np.int8, np.int64, np.uint8, np.bool_]),
                    hnp.array_shapes(min_dims=0, max_dims=3, max_side=4)))
def test_activations_turn_ints_and_bools_into_float64(name, x):
    out, _ = ELEMENTWISE[name][0](x)
    assert np.asarray(out).dtype == np.float64 and np.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@pytest.mark.parametrize("dtype", BAD_DTYPES)
def test_activations_reject_unsupported_dtypes(name, dtype):
    with pytest.raises(TypeError, match=_names("x")):
        ELEMENTWISE[name][0](_bad_array(dtype))


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_nan_and_inf_propagate_only_where_they_are(name):
    x = np.array([[np.nan, 0.5, -2.0], [np.inf, -np.inf, 1.0]])
    out = ELEMENTWISE[name][0](x)[0]
    assert np.isnan(out[0, 0])
    assert np.isfinite(out[:, 1:][np.isfinite(x[:, 1:])]).all()


@FUZZ
@given(n=st.integers(0, 4), d_in=st.integers(1, 4), d_out=st.integers(1, 3),
       k=st.integers(-1, 3), dtype=FLOATS)
def test_maxout_shapes_and_piece_count(n, d_in, d_out, k, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, d_in)).astype(dtype)
    if k < 1:
        with pytest.raises(ValueError, match=_names("w")):
            A.maxout_forward(x, np.zeros((d_in, d_out, max(k, 0))), np.zeros((d_out, 0)))
        return
    w = rng.standard_normal((d_in, d_out, k)).astype(dtype)
    out, cache = A.maxout_forward(x, w, np.zeros((d_out, k), dtype))
    assert out.shape == (n, d_out) and out.dtype == dtype and np.isfinite(out).all()
    dx, dw, db = A.maxout_backward(np.ones_like(out), cache)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == (d_out, k)


@pytest.mark.parametrize("alpha", [-1.0, math.nan, math.inf, "0.1", None])
def test_activation_parameters_are_validated(alpha):
    for forward in (A.leaky_relu_forward, A.elu_forward):
        with pytest.raises((TypeError, ValueError), match=_names("alpha")):
            forward(np.ones(3), alpha)


# --------------------------------------------------------------------------------------------
# affine layer and losses
# --------------------------------------------------------------------------------------------

@FUZZ
@given(n=st.integers(0, 4), feat=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0,
                                                   max_side=3),
       d_out=st.integers(0, 3), dtype=FLOATS)
def test_affine_any_batch_and_feature_shape(n, feat, d_out, dtype):
    d_in = math.prod(feat)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, *feat)).astype(dtype)
    w = rng.standard_normal((d_in, d_out)).astype(dtype)
    out, cache = layers.affine_forward(x, w, np.zeros(d_out, dtype))
    assert out.shape == (n, d_out) and out.dtype == dtype and np.isfinite(out).all()
    dx, dw, db = layers.affine_backward(np.ones_like(out), cache)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == (d_out,)


@FUZZ
@given(n=st.integers(1, 3), d_in=st.integers(1, 4), d_bad=st.integers(1, 4))
def test_affine_mismatched_shapes_name_the_argument(n, d_in, d_bad):
    assume(d_bad != d_in)
    with pytest.raises(ValueError, match=_names("w")):
        layers.affine_forward(np.ones((n, d_in)), np.ones((d_bad, 2)), np.zeros(2))
    with pytest.raises(ValueError, match=_names("b")):
        layers.affine_forward(np.ones((n, d_in)), np.ones((d_in, 2)), np.zeros(d_bad + 2))
    with pytest.raises(ValueError, match=_names("x")):
        layers.affine_forward(np.ones(d_in), np.ones((d_in, 2)), np.zeros(2))


@FUZZ
@given(n=st.integers(0, 4), c=st.integers(0, 4), dtype=FLOATS, data_=st.data())
def test_softmax_cross_entropy_is_finite_or_names_scores(n, c, dtype, data_):
    scores = data_.draw(finite_arrays(dtype, (n, c), bound=1e4))
    y = np.zeros(n, dtype=np.int64)
    if n == 0 or c == 0:
        with pytest.raises(ValueError, match=_names("scores")):
            layers.softmax_cross_entropy(scores, y)
        return
    y = data_.draw(hnp.arrays(np.int64, n, elements=st.integers(0, c - 1)))
    loss, dscores = layers.softmax_cross_entropy(scores, y)
    assert math.isfinite(loss) and loss >= 0
    assert dscores.shape == (n, c) and np.isfinite(dscores).all()
    np.testing.assert_allclose(dscores.sum(axis=1), 0, atol=1e-5)


# --------------------------------------------------------------------------------------------
# batch norm and friends
# --------------------------------------------------------------------------------------------

def _assert_standardised(out: np.ndarray, x: np.ndarray, axis, dtype) -> None:
    """Mean 0, variance 1 over ``axis`` wherever the input's std is well above sqrt(eps)."""
    xs = x.astype(np.float64)
    spread = xs.std(axis=axis)
    ok = spread > 0.1
    tol = 2e-3 if dtype == np.float32 else 1e-6
    mean = out.astype(np.float64).mean(axis=axis)
    var = out.astype(np.float64).var(axis=axis)
    np.testing.assert_allclose(mean[ok], 0, atol=tol)
    np.testing.assert_allclose(var[ok], 1, atol=20 * tol + 1e-3)


@FUZZ
@given(n=st.integers(2, 6), d=st.integers(0, 4), dtype=FLOATS, data_=st.data())
def test_batchnorm_train_standardises_every_feature(n, d, dtype, data_):
    x = data_.draw(finite_arrays(dtype, (n, d)))
    g, b = np.ones(d, dtype), np.zeros(d, dtype)
    running = norm.RunningStats.zeros(d) if d else None
    out, cache = norm.batchnorm_forward(x, g, b, running=running)
    assert out.shape == x.shape and out.dtype == dtype and np.isfinite(out).all()
    _assert_standardised(out, x, 0, dtype)
    for backward in (norm.batchnorm_backward, norm.batchnorm_backward_paper):
        grads = backward(np.ones_like(out), cache)
        assert [gr.shape for gr in grads] == [x.shape, (d,), (d,)]
        assert all(np.isfinite(gr).all() for gr in grads)
    if running is not None:
        assert np.isfinite(running.mean).all() and (running.var >= 0).all()


@FUZZ
@given(n=st.integers(0, 5), d=st.integers(1, 4), dtype=FLOATS, data_=st.data())
def test_batchnorm_eval_any_batch_size(n, d, dtype, data_):
    x = data_.draw(finite_arrays(dtype, (n, d)))
    mean = data_.draw(finite_arrays(np.float64, (d,)))
    var = data_.draw(hnp.arrays(np.float64, d, elements=st.floats(0, 1e6)))
    running = norm.RunningStats(mean, var)
    out, cache = norm.batchnorm_forward(x, np.ones(d), np.zeros(d), mode="eval",
                                        running=running)
    assert out.shape == (n, d) and np.isfinite(out).all()
    assert np.isfinite(norm.batchnorm_backward(np.ones_like(out), cache)[0]).all()


@pytest.mark.parametrize("n", [0, 1])
def test_batchnorm_train_rejects_batches_below_two(n):
    for fwd in (norm.batchnorm_forward, norm.lp_batchnorm_forward):
        with pytest.raises(ValueError, match=_names("x")):
            fwd(np.ones((n, 3)), np.ones(3), np.zeros(3))


@pytest.mark.parametrize("eps", [0, -1e-5, math.nan, math.inf, "1e-5", None])
def test_every_norm_validates_eps(eps):
    x2, x4, g = np.random.default_rng(0).standard_normal((4, 3)), np.ones((2, 3, 2, 2)), np.ones(3)
    calls = [lambda: norm.batchnorm_forward(x2, g, 0 * g, eps=eps),
             lambda: norm.spatial_batchnorm_forward(x4, g, 0 * g, eps=eps),
             lambda: norm.layernorm_forward(x2, g, 0 * g, eps=eps),
             lambda: norm.instancenorm_forward(x4, g, 0 * g, eps=eps),
             lambda: norm.groupnorm_forward(x4, 3, g, 0 * g, eps=eps),
             lambda: norm.lp_batchnorm_forward(x2, g, 0 * g, 2, eps=eps)]
    for call in calls:
        with pytest.raises((TypeError, ValueError), match=_names("eps")):
            call()


@pytest.mark.parametrize("bad", [np.array([-1.0, 1, 1]), np.array([np.nan, 1, 1]),
                                 np.array([np.inf, 1, 1])])
def test_eval_batchnorm_rejects_broken_running_variance(bad):
    running = norm.RunningStats(np.zeros(3), bad)
    with pytest.raises(ValueError, match=_names("running")):
        norm.batchnorm_forward(np.ones((2, 3)), np.ones(3), np.zeros(3), mode="eval",
                               running=running)


def test_batchnorm_nan_stays_in_its_feature():
    x = np.random.default_rng(0).standard_normal((5, 3))
    x[2, 1] = np.nan
    out = norm.batchnorm_forward(x, np.ones(3), np.zeros(3))[0]
    assert np.isnan(out[:, 1]).all() and np.isfinite(out[:, [0, 2]]).all()


@pytest.mark.parametrize("dtype, scale", [(np.float32, 1e25), (np.float64, 1e200)])
def test_variance_overflow_is_an_error_not_zeros(dtype, scale):
    x = (np.random.default_rng(0).standard_normal((4, 3)) * scale).astype(dtype)
    g, b = np.ones(3, dtype), np.zeros(3, dtype)
    for call in (lambda: norm.batchnorm_forward(x, g, b),
                 lambda: norm.layernorm_forward(x, g, b),
                 lambda: norm.groupnorm_forward(x, 1, g, b)):
        with pytest.raises(ValueError, match=r"x is too large"):
            call()


@FEW
@given(n=st.integers(0, 3), c=st.integers(1, 3), h=st.integers(0, 3), w=st.integers(0, 3),
       dtype=FLOATS, data_=st.data())
def test_spatial_batchnorm_standardises_channels_or_names_x(n, c, h, w, dtype, data_):
    x = data_.draw(finite_arrays(dtype, (n, c, h, w)))
    g, b = np.ones(c, dtype), np.zeros(c, dtype)
    if n * h * w < 2:
        with pytest.raises(ValueError, match=_names("x")):
            norm.spatial_batchnorm_forward(x, g, b)
        return
    out, cache = norm.spatial_batchnorm_forward(x, g, b)
    assert out.shape == x.shape and out.dtype == dtype and np.isfinite(out).all()
    _assert_standardised(out, x, (0, 2, 3), dtype)
    dx = norm.spatial_batchnorm_backward(np.ones_like(out), cache)[0]
    assert dx.shape == x.shape and np.isfinite(dx).all()


@FUZZ
@given(x=float_array(min_dims=2, max_dims=4, min_side=0, max_side=4))
def test_layernorm_standardises_each_example_or_names_x(x):
    g, b = np.ones(x.shape[1:], x.dtype), np.zeros(x.shape[1:], x.dtype)
    if math.prod(x.shape[1:]) < 2:
        with pytest.raises(ValueError, match=_names("x")):
            norm.layernorm_forward(x, g, b)
        return
    out, cache = norm.layernorm_forward(x, g, b)
    assert out.shape == x.shape and out.dtype == x.dtype and np.isfinite(out).all()
    axes = tuple(range(1, x.ndim))
    _assert_standardised(out, x, axes, x.dtype)
    dx, dg, db = norm.layernorm_backward(np.ones_like(out), cache)
    assert dx.shape == x.shape and dg.shape == g.shape and np.isfinite(dx).all()


@FUZZ
@given(x=float_array(min_dims=3, max_dims=4, min_side=0, max_side=4))
def test_instancenorm_or_names_x(x):
    c = x.shape[1]
    g, b = np.ones(c, x.dtype), np.zeros(c, x.dtype)
    if math.prod(x.shape[2:]) < 2:
        with pytest.raises(ValueError, match=_names("x")):
            norm.instancenorm_forward(x, g, b)
        return
    out, cache = norm.instancenorm_forward(x, g, b)
    assert out.shape == x.shape and out.dtype == x.dtype and np.isfinite(out).all()
    _assert_standardised(out, x, tuple(range(2, x.ndim)), x.dtype)
    assert np.isfinite(norm.instancenorm_backward(np.ones_like(out), cache)[0]).all()


@FUZZ
@given(x=float_array(min_dims=2, max_dims=4, min_side=0, max_side=4),
       groups=st.integers(-2, 6))
def test_groupnorm_num_groups_and_shapes(x, groups):
    c = x.shape[1]
    g, b = np.ones(c, x.dtype), np.zeros(c, x.dtype)
    if groups < 1 or c == 0 or c % groups:
        with pytest.raises(ValueError, match=_names("num_groups|x")):
            norm.groupnorm_forward(x, groups, g, b)
        return
    if math.prod(x.shape[1:]) // groups < 2:
        with pytest.raises(ValueError, match=_names("x")):
            norm.groupnorm_forward(x, groups, g, b)
        return
    out, cache = norm.groupnorm_forward(x, groups, g, b)
    assert out.shape == x.shape and out.dtype == x.dtype and np.isfinite(out).all()
    grouped = x.reshape(x.shape[0], groups, math.prod(x.shape[1:]) // groups)
    _assert_standardised(out.reshape(grouped.shape), grouped, 2, x.dtype)
    assert np.isfinite(norm.groupnorm_backward(np.ones_like(out), cache)[0]).all()


@pytest.mark.parametrize("groups", [0, -1, 2, 1.0, True, "3"])
def test_groupnorm_rejects_bad_num_groups(groups):
    with pytest.raises((TypeError, ValueError), match=_names("num_groups")):
        norm.groupnorm_forward(np.ones((2, 3, 2)), groups, np.ones(3), np.zeros(3))


@FUZZ
@given(n=st.integers(2, 6), d=st.integers(1, 3), p=st.sampled_from([1, 1.5, 2, 3, 50, 500,
                                                                     math.inf]),
       dtype=FLOATS, data_=st.data())
def test_lp_batchnorm_is_finite_for_large_p_and_large_values(n, d, p, dtype, data_):
    x = data_.draw(finite_arrays(dtype, (n, d), bound=1e6))
    out, cache = norm.lp_batchnorm_forward(x, np.ones(d, dtype), np.zeros(d, dtype), p)
    assert out.shape == x.shape and np.isfinite(out).all()
    c = np.abs(x.astype(np.float64) - x.astype(np.float64).mean(axis=0))
    spread = c.max(axis=0) > 0.1
    assert (np.abs(out).max(axis=0)[spread] > 0.5).all(), "no column may collapse to 0"
    grads = norm.lp_batchnorm_backward(np.ones_like(out), cache)
    assert all(np.isfinite(gr).all() for gr in grads)


@pytest.mark.parametrize("p", [0, 0.5, -1, math.nan, "2", None])
def test_lp_batchnorm_rejects_bad_p(p):
    with pytest.raises((TypeError, ValueError), match=_names("p")):
        norm.lp_batchnorm_forward(np.eye(3), np.ones(3), np.zeros(3), p)


@FUZZ
@given(n=st.integers(0, 4), d_in=st.integers(1, 4), d_out=st.integers(1, 3),
       exponent=st.integers(-250, 250), dtype=FLOATS)
def test_weightnorm_column_norms_are_g_at_any_scale_of_v(n, d_in, d_out, exponent, dtype):
    rng = np.random.default_rng(2)
    if dtype == np.float32:
        exponent = int(np.clip(exponent, -30, 30))
    v = (rng.standard_normal((d_in, d_out)) * 10.0**exponent).astype(dtype)
    assume(np.all(np.abs(v).max(axis=0) > 0))
    g = rng.uniform(0.5, 2.0, d_out).astype(dtype)
    x = rng.standard_normal((n, d_in)).astype(dtype)
    out, cache = norm.weightnorm_forward(x, v, g, np.zeros(d_out, dtype))
    assert out.shape == (n, d_out) and np.isfinite(out).all()
    np.testing.assert_allclose(np.linalg.norm(cache["w"].astype(np.float64), axis=0), g,
                               rtol=1e-5 if dtype == np.float32 else 1e-12)
    grads = norm.weightnorm_backward(np.ones_like(out), cache)
    assert all(np.isfinite(gr).all() for gr in grads)


@pytest.mark.parametrize("fn", ["batchnorm_forward", "layernorm_forward",
                                "lp_batchnorm_forward"])
@pytest.mark.parametrize("dtype", BAD_DTYPES)
def test_norms_reject_unsupported_dtypes(fn, dtype):
    with pytest.raises(TypeError, match=_names("x")):
        getattr(norm, fn)(_bad_array(dtype), np.ones(2), np.zeros(2))


# --------------------------------------------------------------------------------------------
# dropout
# --------------------------------------------------------------------------------------------

@FUZZ
@given(x=float_array(max_dims=3), keep_prob=st.floats(1e-6, 1.0), train=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_dropout_shapes_scale_and_finiteness(x, keep_prob, train, seed):
    for fwd, bwd in ((dropout.dropout_forward, dropout.dropout_backward),
                     (dropout.standard_dropout_forward, dropout.standard_dropout_backward)):
        out, cache = fwd(x, keep_prob, mode="train" if train else "eval", rng=seed)
        out = np.asarray(out)
        assert out.shape == x.shape and out.dtype == x.dtype and np.isfinite(out).all()
        (dx,) = bwd(np.ones_like(out), cache)
        assert dx.shape == x.shape and np.isfinite(dx).all()
        if train:
            kept = cache["mask"]
            assert (out[~kept] == 0).all()


@pytest.mark.parametrize("keep_prob", [0, 0.0, -0.1, 1.0000001, 2, math.nan, math.inf])
def test_dropout_rejects_keep_prob_outside_0_1(keep_prob):
    with pytest.raises(ValueError, match=_names("keep_prob")):
        dropout.dropout_forward(np.ones(3), keep_prob, rng=0)


def test_dropout_keep_prob_one_is_the_identity_and_tiny_keep_prob_is_checked():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(dropout.dropout_forward(x, 1, rng=0)[0], x)
    np.testing.assert_array_equal(dropout.dropout_forward(x, 1.0, rng=0)[0], x)
    with pytest.raises(ValueError, match=_names("keep_prob")):
        dropout.dropout_forward(x.astype(np.float32), 1e-40, rng=0)
    out = dropout.dropout_forward(x, 1e-300, mask=np.ones_like(x))[0]
    assert np.isfinite(out).all()


# --------------------------------------------------------------------------------------------
# init
# --------------------------------------------------------------------------------------------

@FUZZ
@given(scheme=st.sampled_from(init.SCHEMES), fan_in=st.integers(1, 10**6),
       fan_out=st.integers(1, 10**6), scale=st.floats(1e-3, 1e3),
       nonlinearity=st.sampled_from([None, "linear", "relu", "tanh", "sigmoid", "selu"]),
       mode=st.sampled_from(["fan_in", "fan_out"]))
def test_init_std_is_a_finite_nonnegative_number(scheme, fan_in, fan_out, scale, nonlinearity,
                                                 mode):
    if nonlinearity is not None and not scheme.startswith("kaiming"):
        with pytest.raises(ValueError, match=_names("nonlinearity")):
            init.init_std(scheme, fan_in, fan_out, scale=scale, nonlinearity=nonlinearity)
        return
    std = init.init_std(scheme, fan_in, fan_out, scale=scale, nonlinearity=nonlinearity,
                        mode=mode)
    assert isinstance(std, float) and math.isfinite(std)
    assert std == 0 if scheme in ("zeros", "constant") else std > 0


@pytest.mark.parametrize("kwargs, name", [
    ({"fan_in": 0}, "fan_in"), ({"fan_out": -1}, "fan_out"), ({"fan_in": 2.0}, "fan_in"),
    ({"fan_in": True}, "fan_in"), ({"scale": math.nan}, "scale"), ({"scale": 0}, "scale"),
    ({"scale": "1"}, "scale"), ({"mode": "fan_avg"}, "mode"), ({"nonlinearity": "gelu"},
                                                               "nonlinearity"),
])
def test_init_std_names_bad_arguments(kwargs, name):
    args = {"scheme": "kaiming_normal", "fan_in": 4, "fan_out": 4, **kwargs}
    with pytest.raises((TypeError, ValueError), match=_names(name)):
        init.init_std(**args)


@FUZZ
@given(scheme=st.sampled_from(init.SCHEMES),
       shape=hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=4),
       dtype=st.sampled_from([np.float16, np.float32, np.float64]), seed=st.integers(0, 99))
def test_init_weights_shape_dtype_and_finiteness(scheme, shape, dtype, seed):
    layout = {2: "numpy", 3: "maxout"}.get(len(shape), "torch")
    w = init.init_weights(shape, scheme, rng=seed, dtype=dtype, layout=layout)
    assert w.shape == shape and w.dtype == dtype and np.isfinite(w).all()
    again = init.init_weights(shape, scheme, rng=seed, dtype=dtype, layout=layout)
    np.testing.assert_array_equal(w, again)


@pytest.mark.parametrize("shape, dtype, name", [
    (3, np.float64, "shape"), (None, np.float64, "shape"), ((3,), np.float64, "shape"),
    ((0, 2), np.float64, "shape"), ((True, 2), np.float64, "shape"),
    ((2, 2), np.int64, "dtype"), ((2, 2), np.complex128, "dtype"), ((2, 2), "nonsense", "dtype"),
])
def test_init_weights_names_bad_arguments(shape, dtype, name):
    with pytest.raises((TypeError, ValueError), match=_names(name)):
        init.init_weights(shape, "normal", dtype=dtype, rng=0)


def test_init_weights_overflowing_scale_names_scale():
    with pytest.raises(ValueError, match=_names("scale")):
        init.init_weights((2, 2), "normal", scale=1e300, dtype=np.float32, rng=0)


@FEW
@given(scheme=st.sampled_from(init.SCHEMES),
       shape=hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=4),
       dtype=st.sampled_from([torch.float32, torch.float64]))
def test_init_tensor_fills_in_place(scheme, shape, dtype):
    t = torch.full(shape, 7.0, dtype=dtype)
    out = init.init_tensor_(t, scheme, rng=torch.Generator().manual_seed(0))
    assert out is t and t.dtype == dtype and bool(torch.isfinite(t).all())


@pytest.mark.parametrize("tensor, name", [
    (torch.zeros(2, 3, dtype=torch.int64), "tensor"), (torch.zeros(2, 3, dtype=torch.bool),
                                                       "tensor"),
    (torch.zeros(2, 3, dtype=torch.complex64), "tensor"), (np.zeros((2, 3)), "tensor"),
    (torch.zeros(3), "shape"), (torch.zeros(0, 3), "shape"),
])
def test_init_tensor_names_bad_tensors(tensor, name):
    with pytest.raises((TypeError, ValueError), match=_names(name)):
        init.init_tensor_(tensor, "kaiming_normal")
    with pytest.raises(TypeError, match=_names("rng")):
        init.init_tensor_(torch.zeros(2, 3), "normal", rng="3")


# --------------------------------------------------------------------------------------------
# rel_error
# --------------------------------------------------------------------------------------------

@FUZZ
@given(shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4), data_=st.data())
def test_rel_error_is_between_0_and_1_even_near_the_largest_float(shape, data_):
    x = data_.draw(hnp.arrays(np.float64, shape, elements=st.floats(allow_nan=False)))
    y = data_.draw(hnp.arrays(np.float64, shape, elements=st.floats(allow_nan=False)))
    r = gradcheck.rel_error(x, y)
    assert 0.0 <= r <= 1.0
    assert gradcheck.rel_error(x, x) == 0.0


def test_rel_error_nan_gives_nan_and_bad_input_names_the_argument():
    assert math.isnan(gradcheck.rel_error([1.0, np.nan], [1.0, 1.0]))
    assert math.isnan(gradcheck.rel_error(np.inf, np.nan))
    assert gradcheck.rel_error(np.inf, 1.0) == 1.0 and gradcheck.rel_error(-np.inf, -np.inf) == 0
    assert gradcheck.rel_error(np.float32(1), np.int64(1)) == 0.0
    for bad, name in ((1 + 1j, "x"), ("a", "x"), (None, "x"), ([[1], [1, 2]], "x")):
        with pytest.raises(TypeError, match=_names(name)):
            gradcheck.rel_error(bad, 1.0)
    with pytest.raises(TypeError, match=_names("y")):
        gradcheck.rel_error(1.0, np.ones(2, complex))
    for eps in (0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError, match=_names("eps")):
            gradcheck.rel_error(0.0, 0.0, eps=eps)
    with pytest.raises(ValueError, match="shape"):
        gradcheck.rel_error(np.ones((2, 1)), np.ones(2))
    for h in (0, math.nan, "a", None):
        with pytest.raises(ValueError, match=_names("h")):
            gradcheck.numeric_gradient(lambda z: float(z.sum()), np.zeros(2), h=h)


# --------------------------------------------------------------------------------------------
# preprocessing
# --------------------------------------------------------------------------------------------

@FUZZ
@given(n=st.integers(2, 8), d=st.integers(1, 4), data_=st.data())
def test_preprocessors_give_finite_results_on_finite_data(n, d, data_):
    x = data_.draw(finite_arrays(np.float64, (n, d), bound=1e100))
    z = preprocess.Standardizer().fit_transform(x)
    assert z.shape == (n, d) and np.isfinite(z).all()
    spread = x.std(axis=0) > 1e-3 * (np.abs(x).max(axis=0) + 1)
    np.testing.assert_allclose(z.mean(axis=0)[spread], 0, atol=1e-6)
    m = preprocess.MinMaxScaler(-1, 1).fit_transform(x)
    assert np.isfinite(m).all() and (m >= -1 - 1e-9).all() and (m <= 1 + 1e-9).all()
    for mode in preprocess.PCAWhitener.MODES:
        w = preprocess.PCAWhitener(mode=mode).fit_transform(x / (np.abs(x).max() + 1))
        assert w.shape == (n, d) and np.isfinite(w).all()


@pytest.mark.parametrize("bad, err", [
    (np.array([[np.nan, 1.0], [1.0, 2.0]]), ValueError),
    (np.array([[np.inf, 1.0], [1.0, 2.0]]), ValueError),
    (np.ones((2, 2), complex), TypeError), (np.full((2, 2), "a"), TypeError),
    (np.ones(3), ValueError), (np.ones((0, 2)), ValueError), (np.ones((2, 0)), ValueError),
    ([[1.0], [1.0, 2.0]], TypeError), (None, TypeError),
])
def test_preprocessors_name_x_for_bad_data(bad, err):
    for make in (preprocess.Standardizer, preprocess.MinMaxScaler, preprocess.PCAWhitener):
        with pytest.raises(err, match=_names("x")):
            make().fit(bad)


def test_preprocessors_refuse_statistics_that_overflow():
    x = np.array([[1e308, 1.0], [-1e308, 2.0]])
    for make in (preprocess.Standardizer, preprocess.MinMaxScaler, preprocess.PCAWhitener):
        with pytest.raises(ValueError, match="too large"):
            make().fit(x)
    with pytest.raises(ValueError, match=_names("eps")):
        preprocess.Standardizer(eps=math.inf)
    with pytest.raises(ValueError, match=r"state\['mean'\]"):
        preprocess.Standardizer.from_state_dict({"mean": [np.nan], "std": [1.0]})
    with pytest.raises(TypeError, match=_names("state")):
        preprocess.Standardizer.from_state_dict(None)


@FEW
@given(shape=hnp.array_shapes(min_dims=4, max_dims=4, min_side=1, max_side=3),
       layout=st.sampled_from(preprocess.LAYOUTS), data_=st.data())
def test_image_statistics_and_normalisation(shape, layout, data_):
    images = data_.draw(finite_arrays(np.float64, shape, bound=255.0))
    c_axis = 3 if layout == "NHWC" else 1
    mean, std = preprocess.channel_mean_std(images, layout)
    assert mean.shape == std.shape == (shape[c_axis],)
    out = preprocess.normalize_channels(images, mean, np.where(std > 0, std, 1.0), layout)
    assert out.shape == shape and np.isfinite(out).all()
    assert preprocess.mean_image(images, layout).shape == shape[1:]


@pytest.mark.parametrize("call, name", [
    (lambda: preprocess.mean_image(np.full((1, 2, 2, 3), np.nan)), "images"),
    (lambda: preprocess.mean_image(np.ones((1, 2, 2, 3), complex)), "images"),
    (lambda: preprocess.mean_image(np.ones((2, 2, 3))), "images"),
    (lambda: preprocess.channel_mean_std(np.ones((0, 2, 2, 3))), "images"),
    (lambda: preprocess.normalize_channels(np.ones((1, 2, 2, 3)), np.zeros(3),
                                           np.full(3, np.nan)), "std"),
    (lambda: preprocess.normalize_channels(np.ones((1, 2, 2, 3)), np.zeros(3),
                                           np.full(3, np.inf)), "std"),
    (lambda: preprocess.normalize_channels(np.ones((1, 2, 2, 3)), ["a", "b", "c"]), "mean"),
    (lambda: preprocess.normalize_channels(np.ones((1, 2, 2, 3)), np.zeros(2)), "mean"),
    (lambda: preprocess.as_torch_module(np.zeros(3), np.full(3, np.inf)), "std"),
    (lambda: preprocess.as_torch_module(np.zeros(3, complex)), "mean"),
])
def test_image_helpers_name_bad_arguments(call, name):
    with pytest.raises((TypeError, ValueError), match=_names(name)):
        call()


# --------------------------------------------------------------------------------------------
# generated data
# --------------------------------------------------------------------------------------------

@FUZZ
@given(kind=st.sampled_from(data.TOY_KINDS), n=st.integers(2, 300), seed=st.integers(0, 2**32),
       noise=st.one_of(st.none(), st.floats(0, 1)))
def test_make_toy_2d_shapes_balance_and_determinism(kind, n, seed, noise):
    X, y = data.make_toy_2d(kind, n, seed, noise)
    assert X.shape == (n, 2) and X.dtype == np.float64 and np.isfinite(X).all()
    assert y.shape == (n,) and y.dtype == np.int64 and set(np.unique(y)) <= {0, 1}
    assert (y == 0).sum() == n // 2
    X2, y2 = data.make_toy_2d(kind, n, seed, noise)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)


@pytest.mark.parametrize("kwargs, name", [
    ({"kind": ["xor"]}, "kind"), ({"kind": None}, "kind"), ({"n": 1}, "n"), ({"n": 2.0}, "n"),
    ({"n": True}, "n"), ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"), ({"seed": "a"}, "seed"),
    ({"noise": -0.1}, "noise"), ({"noise": math.nan}, "noise"), ({"noise": math.inf}, "noise"),
])
def test_make_toy_2d_names_bad_arguments(kwargs, name):
    args = {"kind": "xor", "n": 10, "seed": 0, **kwargs}
    with pytest.raises((TypeError, ValueError), match=_names(name)):
        data.make_toy_2d(**args)


@FEW
@given(n=st.integers(1, 5), size=st.integers(1, 40), seed=st.integers(0, 2**32))
def test_load_photo_patches_shapes(n, size, seed):
    patches = data.load_photo_patches(n, size, seed)
    assert patches.shape == (n, size, size, 3) and patches.dtype == np.uint8
    np.testing.assert_array_equal(patches, data.load_photo_patches(n, size, seed))


@pytest.mark.parametrize("kwargs, name", [
    ({"n": 0}, "n"), ({"n": 2.0}, "n"), ({"size": 0}, "size"), ({"size": 10_000}, "size"),
    ({"size": 4.0}, "size"), ({"seed": -1}, "seed"), ({"seed": "x"}, "seed"),
])
def test_load_photo_patches_names_bad_arguments(kwargs, name):
    args = {"n": 2, "size": 4, "seed": 0, **kwargs}
    with pytest.raises((TypeError, ValueError), match=_names(name)):
        data.load_photo_patches(**args)


# --------------------------------------------------------------------------------------------
# plots given odd inputs
# --------------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


ODD_VALUES = st.sampled_from([0.0, 1e-30, 1.0, 1e30, -1.0, np.nan, np.inf, -np.inf])


@FEW
@given(arrays=st.lists(hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=2,
                                                                 min_side=0, max_side=4),
                                  elements=ODD_VALUES), min_size=1, max_size=3))
def test_histogram_grid_draws_any_layer_list(arrays):
    fig = plots.histogram_grid(arrays, bins=5)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == len(arrays)
    plt.close(fig)


@FEW
@given(runs=st.lists(st.lists(ODD_VALUES, min_size=0, max_size=5), min_size=1, max_size=3),
       log=st.booleans())
def test_std_per_layer_draws_any_values(runs, log):
    fig = plots.std_per_layer({f"run {i}": r for i, r in enumerate(runs)}, log=log)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "layer" and all(np.isfinite(ax.get_ylim()))
    plt.close(fig)


@pytest.mark.parametrize("call, name", [
    (lambda: plots.histogram_grid(None), "arrays"),
    (lambda: plots.histogram_grid([np.ones(2, complex)]), "arrays"),
    (lambda: plots.histogram_grid([np.ones(2)], range=(np.nan, 1)), "range"),
    (lambda: plots.std_per_layer(None), "stds"),
    (lambda: plots.std_per_layer(3.0), "stds"),
    (lambda: plots.activation_curves(3), "names"),
    (lambda: plots.activation_curves("relu", ["a", "b"]), "x"),
    (lambda: plots.decision_boundary(np.zeros, np.zeros((0, 2)), np.zeros(0, int)), "X"),
    (lambda: plots.decision_boundary(np.zeros, np.array([[np.nan, 0.0]]), np.zeros(1, int)),
     "X"),
    (lambda: plots.decision_boundary(np.zeros, np.zeros((2, 2)), np.array([0.5, 1.0])), "y"),
    (lambda: plots.decision_boundary(lambda g: np.full(len(g), np.nan), np.eye(2),
                                     np.array([0, 1])), "predict_fn"),
    (lambda: plots.loss_surface(lambda a, b: a, xlim=(-np.inf, 1)), "xlim"),
    (lambda: plots.loss_surface(lambda a, b: a, resolution=1), "resolution"),
    (lambda: plots.gd_path("ab"), "path"),
    (lambda: plots.percentile_bands({"step": [1, 2], "p15": [1], "p50": [1, 2],
                                     "p85": [1, 2]}), "series"),
    (lambda: plots.update_ratio_chart(type("H", (), {"records": [], "series": None})(),
                                      reference="a"), "reference"),
])
def test_plots_name_unusable_arguments(call, name):
    with pytest.raises((TypeError, ValueError), match=_names(name)):
        call()


def test_training_curves_with_single_layer_nan_and_empty_histories():
    class Hist:
        def __init__(self, curves, diverged=False, at=None):
            self.curves, self.diverged, self.diverged_at = curves, diverged, at

    runs = {"empty": Hist([]), "nan": Hist([{"step": 0, "train_loss": np.nan}]),
            "diverged": Hist([{"step": 0, "train_loss": 1.0}, {"step": 5, "train_loss": np.inf}],
                             True, 5)}
    fig = plots.training_curves(runs, metrics="loss", split="train", log_loss=True)
    assert len(fig.axes) == 1 and any("diverged at step 5" in t.get_text()
                                      for t in fig.axes[0].texts)
    with pytest.raises(ValueError, match=_names("metrics")):
        plots.training_curves(runs, metrics=("loss", "foo"))
    with pytest.raises(TypeError, match=_names("histories")):
        plots.training_curves({"a": Hist([{"train_loss": 1.0}])})
