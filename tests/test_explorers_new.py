"""The explorers of lessons 02, 05 and 07 and the computations behind them.

Each explorer is driven through its controls (``control.value = ...``, the path a learner
takes): every control to both ends, random combinations, and checks that a change of a control
changes the figure and moves the numbers the way the lesson claims.
"""

from __future__ import annotations

import copy
import random

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from trainlab import landscape, models, preprocess  # noqa: E402
from trainlab import widgets as W  # noqa: E402
from trainlab.reproduce import beyond_batchnorm as bb  # noqa: E402

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture(autouse=True, scope="module")
def course_style():
    """The lessons' matplotlib style (constrained layout on) and float64 default, as
    ``trainlab.setup_notebook`` leaves them; restored afterwards."""
    from trainlab.style import apply_style

    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    with matplotlib.rc_context():
        apply_style()
        yield
    torch.set_default_dtype(dtype)


@pytest.fixture(scope="module")
def mnist_ok() -> None:
    from trainlab.data import DataError, load_mnist

    try:
        load_mnist("10k", "val")
    except DataError as exc:
        pytest.skip(f"MNIST-10k not available: {exc}")


def _healthy(explorer: W.Explorer) -> str:
    explorer.wait()
    status = explorer.last_result.get("status")
    assert isinstance(status, str) and status, explorer.last_result
    assert not status.startswith("error"), (status, explorer.values())
    text = "".join(o.get("data", {}).get("text/plain", "") for o in explorer.output.outputs)
    assert status in text and "Traceback" not in text
    assert explorer.last_result["params"] == explorer.values()
    assert explorer.last_png is not None
    return status


def _ends(control: ipywidgets.Widget) -> list:
    if isinstance(control, ipywidgets.FloatLogSlider):
        return [control.base ** control.min, control.base ** control.max]
    if isinstance(control, ipywidgets.IntSlider | ipywidgets.FloatSlider):
        return [control.min, control.max]
    if isinstance(control, ipywidgets.SelectionSlider):
        return [control.options[0], control.options[-1]]
    raise AssertionError(f"no sweep for {type(control).__name__}")


def _random(control: ipywidgets.Widget, rng: random.Random):
    if isinstance(control, ipywidgets.FloatLogSlider):
        return control.base ** rng.uniform(control.min, control.max)
    if isinstance(control, ipywidgets.IntSlider):
        return rng.randint(control.min, control.max)
    if isinstance(control, ipywidgets.FloatSlider):
        return round(rng.uniform(control.min, control.max) / control.step) * control.step
    return rng.choice(control.options)


def _sweep(explorer: W.Explorer, n_random: int, seed: int = 0) -> dict:
    statuses = {}
    for name, control in explorer.controls.items():
        default = control.value
        for value in _ends(control):
            control.value = value
            statuses[name, value] = _healthy(explorer)
        control.value = default
        _healthy(explorer)
    rng = random.Random(seed)
    for _ in range(n_random):
        with explorer.hold_trait_notifications():
            for control in explorer.controls.values():
                control.value = _random(control, rng)
        explorer.update()
        _healthy(explorer)
    return statuses


def _changes_figure(explorer: W.Explorer, name: str, value) -> tuple[dict, dict]:
    before, png = copy.copy(explorer.last_result), explorer.last_png
    explorer.controls[name].value = value
    explorer.wait()
    assert explorer.last_png != png, f"the figure did not change with {name}"
    return before, explorer.last_result


# --------------------------------------------------------------------------------------------
# lesson 02: line fit, condition number, gradient descent
# --------------------------------------------------------------------------------------------
def _lesson_gd(x, y, factor, steps=60):
    """Lesson 02's own loop (section 1)."""
    hess = np.array([[np.mean(x * x), np.mean(x)], [np.mean(x), 1.0]])
    lr = factor / np.linalg.eigvalsh(hess).max()
    theta, path = np.array([-1.5, 1.5]), []
    for _ in range(steps + 1):
        path.append(theta)
        resid = theta[0] * x + theta[1] - y
        theta = theta - lr * np.array([np.mean(resid * x), np.mean(resid)])
    return np.array(path), np.linalg.cond(hess)


def test_line_fit_reproduces_lesson_02():
    rng = np.random.default_rng(0)
    x_far = rng.uniform(4.0, 6.0, size=50)
    y_line = 0.8 * x_far - 3.0 + 0.2 * rng.standard_normal(50)
    x, y = preprocess.line_fit_data()
    np.testing.assert_allclose(x, x_far, rtol=0, atol=1e-12)
    np.testing.assert_allclose(y, y_line, rtol=0, atol=1e-12)
    for factor in (1.0, 1.9):
        run = preprocess.line_fit_descent(x, y, step_fraction=factor / 2)
        path, cond = _lesson_gd(x_far, y_line, factor)
        np.testing.assert_allclose(run["path"], path, rtol=1e-10, atol=1e-12)
        assert run["condition_number"] == pytest.approx(cond, rel=1e-9)
    assert round(run["condition_number"], 1) == 2124.4


def test_line_fit_excess_is_the_sum_of_its_modes():
    x, y = preprocess.line_fit_data(2.0, 0.5)
    run = preprocess.line_fit_descent(x, y, step_fraction=0.3, steps=40)
    t = np.arange(41)
    predicted = (run["mode_excess"][:, None] * run["factors"][:, None] ** (2 * t)).sum(0)
    np.testing.assert_allclose(run["losses"] - run["min_loss"], predicted, rtol=1e-6,
                               atol=1e-12)
    vecs = run["eigenvectors"]
    np.testing.assert_allclose(run["hessian"] @ vecs, vecs * run["eigenvalues"], atol=1e-12)
    grid = preprocess.line_fit_loss(np.array([[0.3, -1.0]]), np.array([[2.0, 0.5]]), x, y)
    explicit = [0.5 * np.mean((w * x + b - y) ** 2) for w, b in ((0.3, 2.0), (-1.0, 0.5))]
    np.testing.assert_allclose(grid.ravel(), explicit, rtol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    ({"offset": np.inf}, "offset"), ({"scale": 0.0}, "scale"), ({"n": 1}, "n must"),
])
def test_line_fit_data_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        preprocess.line_fit_data(**kwargs)


def test_line_fit_descent_rejects_bad_arguments():
    x, y = preprocess.line_fit_data()
    with pytest.raises(ValueError, match="step_fraction"):
        preprocess.line_fit_descent(x, y, step_fraction=0.0)
    with pytest.raises(ValueError, match="steps"):
        preprocess.line_fit_descent(x, y, steps=-1)
    with pytest.raises(ValueError, match="constant"):
        preprocess.line_fit_descent(np.ones(5), np.arange(5.0))
    with pytest.raises(ValueError, match="1-D"):
        preprocess.line_fit_descent(x, y[:3])


def test_preprocessing_explorer_defaults_show_the_lesson_claim():
    ex = W.preprocessing_explorer()
    res = ex.last_result
    assert res["status"] == "ok"
    assert res["condition_number"] > 1000 and res["centred_condition_number"] < 5
    assert res["excess"] > 100 * max(res["centred_excess"], 1e-12)


def test_preprocessing_explorer_controls_move_the_numbers():
    ex = W.preprocessing_explorer(offset=0.0)
    _, at_0 = _changes_figure(ex, "offset", 5.0)
    assert at_0["condition_number"] > 100 * ex.last_result["centred_condition_number"]
    before, after = _changes_figure(ex, "scale", 10.0)
    ex.controls["offset"].value = 0.0
    conds = []
    for scale in (1.0, 10.0, 100.0):
        ex.controls["scale"].value = scale
        conds.append(ex.last_result["condition_number"])
    assert conds[0] < conds[1] < conds[2] and conds[2] > 1000
    before, after = _changes_figure(ex, "step", 1.05)
    assert after["status"].startswith("diverged") and after["diverged"]
    before, after = _changes_figure(ex, "steps", 200)


@pytest.mark.parametrize("offset, scale", [(5.0, 1.0), (10.0, 0.1), (0.0, 100.0)])
def test_preprocessing_explorer_draws_the_surface_with_equal_units(offset, scale):
    """One unit of w and one of b have the same length on the contour panel (the valley's true
    shape), the box still holds the start and the minimum, and a redraw on the kept figure is
    the image a new figure gives."""
    ex = W.preprocessing_explorer(offset=offset, scale=scale)
    first, opening = ex.last_png, dict(ex.last_result)
    fig = ex.render(dict(opening))
    ax = fig.axes[1]
    box = ax.get_position()
    width, height = fig.get_size_inches() * (box.width, box.height)
    (w0, w1), (b0, b1) = ax.get_xlim(), ax.get_ylim()
    assert (b1 - b0) / (w1 - w0) == pytest.approx(height / width, rel=1e-9)
    for w, b in (ex.last_result["path"][0], ex.last_result["run"]["minimum"]):
        assert w0 < w < w1 and b0 < b < b1
    ex.controls["offset"].value = -offset if offset else 7.5
    assert ex.last_png != first
    assert ex._draw(opening) == first


def test_preprocessing_explorer_every_control_at_its_ends():
    statuses = _sweep(W.preprocessing_explorer(), n_random=4)
    assert statuses["step", 1.1].startswith("diverged")
    assert statuses["step", 0.05] == "ok"


def test_preprocessing_explorer_rejects_bad_openings():
    with pytest.raises(ValueError, match="offset"):
        W.preprocessing_explorer(offset=20.0)
    with pytest.raises(ValueError, match="steps"):
        W.preprocessing_explorer(steps=0)


# --------------------------------------------------------------------------------------------
# lesson 05: the landscape probe
# --------------------------------------------------------------------------------------------
def _tiny_data(n=64, d=20, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=gen), torch.randint(0, 3, (n,), generator=gen)


@pytest.mark.parametrize("norm", ["none", "bn"])
def test_checkpoint_probes_equal_probes_taken_while_training(norm):
    x, y = _tiny_data()
    a = models.mlp(20, [16, 16], 3, norm=norm, seed=0)
    b = copy.deepcopy(a)
    trace = landscape.sgd_with_probes(a, x, y, lr=0.1, steps=12, batch_size=16,
                                      probe_every=4, etas=(0.1, 0.3))
    cps, losses = landscape.sgd_checkpoints(b, x, y, lr=0.1, steps=12, batch_size=16, every=4)
    np.testing.assert_allclose(losses, trace.train_loss, rtol=1e-10)
    probes = landscape.probe_checkpoints(b, cps, (0.1, 0.3))
    assert [cp.step for cp in cps] == trace.steps == [0, 4, 8]
    np.testing.assert_allclose([p.losses.max() for p in probes], trace.loss_max, rtol=1e-10)
    np.testing.assert_allclose([p.grad_changes.max() for p in probes], trace.grad_change_max,
                               rtol=1e-10)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb)


def test_probe_checkpoints_holds_the_noise_fixed_and_restores_the_model():
    x, y = _tiny_data()
    net = models.mlp(20, [16], 3, norm="noisy_bn", norm_kwargs={"rng": 0}, seed=0)
    cps, _ = landscape.sgd_checkpoints(net, x, y, lr=0.1, steps=4, batch_size=16, every=2)
    state = copy.deepcopy(net.state_dict())
    rng_state = net.norm1.rng.get_state()
    fixed = [landscape.probe_checkpoints(net, cps, (1e-9, 0.2), noise_seed=3) for _ in range(2)]
    np.testing.assert_array_equal(fixed[0][0].losses, fixed[1][0].losses)
    assert fixed[0][0].grad_changes[0] < 1e-6      # same noise: the gradient at eta ~ 0 is g
    free = landscape.probe_checkpoints(net, cps, (1e-9, 0.2))
    assert free[0].grad_changes[0] > 1e-3           # fresh noise at every evaluation
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, state[k])
    assert torch.equal(net.norm1.rng.get_state(), rng_state)


def test_sgd_checkpoints_rejects_bad_arguments():
    x, y = _tiny_data()
    net = models.mlp(20, [8], 3, seed=0)
    with pytest.raises(ValueError, match="every"):
        landscape.sgd_checkpoints(net, x, y, lr=0.1, steps=4, batch_size=8, every=0)
    with pytest.raises(ValueError, match="batch_size"):
        landscape.sgd_checkpoints(net, x, y, lr=0.1, steps=4, batch_size=1000, every=1)


SMALL_LANDSCAPE = {"steps": 6, "probe_every": 3, "n_etas": 2, "depth": 2, "width": 16}


@pytest.mark.slow
def test_landscape_explorer_every_control_at_its_ends(mnist_ok):
    ex = W.landscape_explorer(**SMALL_LANDSCAPE)
    _sweep(ex, n_random=4)
    res = ex.last_result
    assert set(res["loss_range"]) == {"no BN", "BN" if ex.controls["noise"].value == 0
                                      else f"noisy BN ({W.fmt(ex.controls['noise'].value)})"}
    assert res["probe_steps"] == [0, 3]


def test_landscape_explorer_controls_change_figure_and_numbers(mnist_ok):
    ex = W.landscape_explorer(**SMALL_LANDSCAPE)
    before, after = _changes_figure(ex, "eta", 1.0)
    assert after["etas"][-1] == pytest.approx(1.0) and before["etas"][-1] == pytest.approx(0.4)
    assert after["loss_range"]["no BN"] != before["loss_range"]["no BN"]
    before, after = _changes_figure(ex, "noise", 1.0)
    assert "noisy BN (1)" in after["loss_range"]
    assert after["loss_range"]["no BN"] == before["loss_range"]["no BN"]   # cached, not noisy
    before, after = _changes_figure(ex, "batch", 16)
    assert after["loss_range"]["no BN"] != before["loss_range"]["no BN"]


@pytest.mark.slow
def test_landscape_explorer_defaults_show_a_smoother_landscape_with_bn(mnist_ok):
    res = W.landscape_explorer().last_result
    # the status names each run's problems; the BN run has none (a step along the gradient of
    # the plain net may raise its loss past 10x: "no BN: diverged: a step ...")
    assert all(not p.startswith("BN") for p in res["status"].split("; ")), res["status"]
    assert res["median_loss_range"]["no BN"] > 3 * res["median_loss_range"]["BN"]
    assert res["median_grad_change"]["no BN"] > 2 * res["median_grad_change"]["BN"]


def test_landscape_explorer_rejects_bad_openings():
    with pytest.raises(ValueError, match="batch_size"):
        W.landscape_explorer(batch_size=100)
    with pytest.raises(ValueError, match="eta"):
        W.landscape_explorer(eta=5.0)


# --------------------------------------------------------------------------------------------
# lesson 07: batch norm over B images vs group norm
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, momentum", [((36, 5), 0.1), ((36, 5), None),
                                             ((38, 3, 4, 4), 0.1), ((38, 3, 4, 4), None)])
def test_per_worker_batch_norm_equals_the_loop_over_chunks(shape, momentum):
    gen = torch.Generator().manual_seed(0)
    bn = nn.BatchNorm1d(shape[1]) if len(shape) == 2 else nn.BatchNorm2d(shape[1])
    bn.momentum = momentum
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2.0, generator=gen)
        bn.bias.normal_(generator=gen)
    ref, wrapped = copy.deepcopy(bn), bb.PerWorkerBatchNorm(bn, 4)
    for _ in range(2):
        x = (3 * torch.randn(*shape, generator=gen) + 1).requires_grad_()
        up = torch.randn(*shape, generator=gen)
        out = wrapped(x)
        (grad,) = torch.autograd.grad((out * up).sum(), x)
        expected = torch.cat([ref(c) for c in x.split(4)])
        (expected_grad,) = torch.autograd.grad((expected * up).sum(), x)
        torch.testing.assert_close(out, expected)
        torch.testing.assert_close(grad, expected_grad)
    torch.testing.assert_close(bn.running_mean, ref.running_mean)
    torch.testing.assert_close(bn.running_var, ref.running_var)
    assert int(bn.num_batches_tracked) == int(ref.num_batches_tracked)
    torch.testing.assert_close(wrapped.eval()(x), ref.eval()(x))


def test_per_worker_batch_norm_rejects_a_group_of_one():
    with pytest.raises(ValueError, match="group"):
        bb.PerWorkerBatchNorm(nn.BatchNorm1d(3), 1)


def test_gn_groups_divide_the_width_and_leave_two_units():
    assert bb.GN_GROUPS == (1, 2, 4, 5, 10, 20, 25, 50)
    with pytest.raises(ValueError, match="groups"):
        bb.batch_dependence("gn", groups=3, data=(np.zeros((4, 196)), np.zeros(4, int)) * 2)
    with pytest.raises(ValueError, match="batch_per_stat"):
        bb.batch_dependence("bn", batch_per_stat=3, data=(np.zeros((4, 196)),
                                                          np.zeros(4, int)) * 2)


SMALL_GROUPS = {"seeds": 1, "steps": 5}


@pytest.mark.slow
def test_batch_groups_explorer_every_control_at_its_ends(mnist_ok):
    ex = W.batch_groups_explorer(**SMALL_GROUPS)
    _sweep(ex, n_random=3)


def test_batch_groups_explorer_gn_ignores_the_batch_bn_does_not(mnist_ok):
    ex = W.batch_groups_explorer(batch_per_stat=4, seeds=2, steps=30)
    at_4 = ex.last_result
    assert at_4["seeds"] == 2
    before, at_32 = _changes_figure(ex, "B", 32)
    assert at_32["gn"] == at_4["gn"]                      # group norm never sees the batch
    assert at_32["bn"] != at_4["bn"]
    assert all(f == 0 for f in at_32["gn"]["flips"])
    assert min(at_4["bn"]["flips"]) > 0.05
    assert set(at_32["bn_sweep"]) == {4, 32}
    before, after = _changes_figure(ex, "groups", 5)
    assert after["bn"] == before["bn"] and after["gn"] != before["gn"]


@pytest.mark.slow
def test_batch_groups_explorer_default_shows_bn_collapse_at_two_images(mnist_ok):
    ex = W.batch_groups_explorer()
    first = ex.last_result
    assert first["seeds"] == 1 and first["bn_mean_error"] > 0.25 > first["gn_mean_error"]
    ex.controls["seeds"].value = 3
    ex.wait()
    res = ex.last_result
    assert res["seeds"] == 3 and min(res["bn"]["eval_error"]) > 0.25
    assert max(res["gn"]["eval_error"]) < 0.2


def test_batch_groups_explorer_rejects_bad_openings():
    with pytest.raises(ValueError, match="groups"):
        W.batch_groups_explorer(groups=3)
    with pytest.raises(ValueError, match="batch_per_stat"):
        W.batch_groups_explorer(batch_per_stat=6)


# --------------------------------------------------------------------------------------------
# all three: legible at the lecture's distance
# --------------------------------------------------------------------------------------------
def test_new_explorers_are_legible(mnist_ok):
    import io

    from PIL import Image

    for ex in (W.preprocessing_explorer(), W.landscape_explorer(**SMALL_LANDSCAPE),
               W.batch_groups_explorer(steps=5)):
        assert Image.open(io.BytesIO(ex.last_png)).size[0] >= 900
        fig = ex.render(ex.last_result)
        texts = [fig._suptitle]
        for ax in fig.axes:
            texts += [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.get_xticklabels(),
                      *ax.get_yticklabels()]
            if ax.get_legend() is not None:
                texts += ax.get_legend().get_texts()
        sizes = [t.get_fontsize() for t in texts if t.get_text()]
        assert min(sizes) >= 11, (ex.title if hasattr(ex, "title") else ex, min(sizes))
        for ax in fig.axes[:3]:
            if ax.get_label() != "<colorbar>":
                assert ax.get_xlabel() and ax.get_ylabel()
