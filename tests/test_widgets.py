"""Tests of trainlab.explorers (old name trainlab.widgets): each explorer driven by its controls."""

from __future__ import annotations

import base64
import io
import math
import threading
import time
from typing import Any

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from traitlets import TraitError  # noqa: E402

from trainlab import widgets as W  # noqa: E402
from trainlab.explorers.spec import slider  # noqa: E402


def _png_count(explorer: W.Explorer) -> int:
    return sum("image/png" in o.get("data", {}) for o in explorer.output.outputs)


def _text(explorer: W.Explorer) -> str:
    """The status line (a display_data with text/plain and nowrap HTML) and any stream."""
    return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                   for o in explorer.output.outputs)


@pytest.fixture(scope="module")
def cache() -> W.WeightCache:
    return W.WeightCache(seed=0, batch=16)


def test_weight_cache_is_deterministic_and_unit_variance(cache):
    w = cache.weight(1, 256, 128)
    assert w.dtype == np.float32 and w.shape == (256, 128)
    assert cache.weight(1, 256, 128) is w
    other = W.WeightCache(seed=0)
    other.weight(2, 256, 128)
    np.testing.assert_array_equal(other.weight(1, 256, 128), w)
    u = cache.weight(1, 256, 128, "uniform")
    assert abs(u.std() - 1) < 0.02 and np.abs(u).max() <= math.sqrt(3) + 1e-6
    assert abs(w.std() - 1) < 0.02
    with pytest.raises(ValueError, match="kind"):
        cache.weight(1, 4, 4, "laplace")


def test_layer_outputs_match_explicit_weights(cache):
    from trainlab.init import init_std

    res = W.init_forward_stats(cache, "kaiming_uniform", 0.5, 2, 128, "tanh")
    std = init_std("kaiming_uniform", 128, 128, scale=0.5, nonlinearity="tanh")
    a1 = np.tanh(cache.inputs(128) @ (std * cache.weight(1, 128, 128, "uniform")))
    a2 = np.tanh(a1 @ (std * cache.weight(2, 128, 128, "uniform")))
    np.testing.assert_allclose(res["activations"][0], a1, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(res["activations"][1], a2, rtol=1e-4, atol=1e-6)
    assert res["weight_std"] == [pytest.approx(std)] * 2


def test_weight_cache_evicts_beyond_max_bytes():
    small = W.WeightCache(max_bytes=3 * 64 * 64 * 4)
    for layer in range(1, 6):
        small.weight(layer, 64, 64)
    assert small.nbytes <= 3 * 64 * 64 * 4


def test_weight_cache_draws_outside_its_lock_and_keeps_one_matrix():
    """A thread drawing a new matrix does not block one reading a cached matrix, and two
    threads drawing the same new matrix end with one cached copy of equal values."""
    c = W.WeightCache(seed=3)
    cached = c.weight(1, 64, 64)
    started, release = threading.Event(), threading.Event()
    real = c._draw

    def slow(*args):
        started.set()
        release.wait(10)
        return real(*args)

    c._draw = slow
    drawn: list = []
    threads = [threading.Thread(target=lambda: drawn.append(c.weight(2, 512, 512)))
               for _ in range(2)]
    for t in threads:
        t.start()
    assert started.wait(10)
    got: list = []
    reader = threading.Thread(target=lambda: got.append(c.weight(1, 64, 64)))
    reader.start()
    reader.join(2)
    release.set()
    assert got and got[0] is cached, "reading a cached matrix waited for a draw"
    for t in threads:
        t.join(10)
    np.testing.assert_array_equal(drawn[0], drawn[1])
    assert len(c._mats) == 2 and c.weight(2, 512, 512) is c._mats[(2, 512, 512, "normal")]


@pytest.mark.parametrize("scale", [0.01, 0.1])
def test_normal_linear_first_layer_std(cache, scale):
    width = 512
    res = W.init_forward_stats(cache, "normal", scale, 3, width, "linear")
    expected = scale * math.sqrt(width) * res["input_std"]
    assert res["std"][0] == pytest.approx(expected, rel=0.1)
    assert res["status"] == "ok" and res["diverged_at"] is None
    assert len(res["hist"]) == 3 and res["hist"][0][0].sum() == 16 * width


def test_xavier_keeps_linear_std_near_one(cache):
    res = W.init_forward_stats(cache, "xavier_normal", 1.0, 6, 512, "linear")
    assert all(0.8 < s < 1.25 for s in res["std"])
    res = W.init_forward_stats(cache, "xavier_uniform", 1.0, 6, 512, "linear")
    assert 0.8 < res["std"][-1] < 1.25


def test_relu_halves_variance_without_gain(cache):
    no_gain = W.init_forward_stats(cache, "xavier_fan_in", 1.0, 6, 512, "relu")
    kaiming = W.init_forward_stats(cache, "kaiming_normal", 1.0, 6, 512, "relu")
    ratio = no_gain["std"][-1] / no_gain["std"][0]
    assert ratio == pytest.approx(math.sqrt(0.5) ** 5, rel=0.25)
    assert 0.6 < kaiming["std"][-1] / kaiming["std"][0] < 1.6


def test_overflow_is_reported_not_raised(cache):
    res = W.init_forward_stats(cache, "normal", 10.0, 20, 256, "linear")
    assert res["diverged_at"] is not None and 1 < res["diverged_at"] <= 20
    assert res["status"] == f"diverged: activations overflow to inf at layer {res['diverged_at']}"
    assert math.isinf(res["std"][-1]) and len(res["std"]) == 20


def test_zeros_init_reports_vanishing(cache):
    res = W.init_forward_stats(cache, "zeros", 1.0, 3, 64, "tanh")
    assert res["std"] == [0.0, 0.0, 0.0]
    assert res["status"].startswith("vanished")


def test_init_forward_stats_rejects_bad_arguments(cache):
    with pytest.raises(ValueError, match="scheme"):
        W.init_forward_stats(cache, "orthogonal", 1.0, 3, 64, "tanh")
    with pytest.raises(ValueError, match="depth"):
        W.init_forward_stats(cache, "normal", 1.0, 0, 64, "tanh")
    with pytest.raises(ValueError, match="activation"):
        W.init_forward_stats(cache, "normal", 1.0, 2, 64, "swish")


def test_init_explorer_follows_its_controls():
    ex = W.init_explorer(depth=4, width=256, widths=(64, 256))
    assert isinstance(ex, ipywidgets.VBox) and ex.output in ex.children
    # the opening setting (normal × 0.01, tanh) shrinks the std about 6× per layer at width 256
    assert _png_count(ex) == 1 and ex.last_result["status"].startswith("vanished: ")
    png = ex.output.outputs[0]["data"]["image/png"]
    assert base64.b64decode(png)[:4] == b"\x89PNG"
    before = list(ex.last_result["std"])
    ex.controls["activation"].value = "linear"
    ex.controls["scale"].value = 0.1
    res = ex.last_result
    assert res["std"] != before and res["params"]["scale"] == pytest.approx(0.1)
    assert res["std"][0] == pytest.approx(0.1 * 16 * res["input_std"], rel=0.1)
    assert "std per layer" in _text(ex) and ex.output.outputs[0]["data"]["image/png"] != png
    ex.controls["depth"].value = 6
    assert len(ex.last_result["std"]) == 6


def test_init_explorer_controls_are_bounded():
    ex = W.init_explorer(depth=2, width=64, widths=(64,), max_depth=20)
    ex.controls["scale"].value = 1e6
    assert ex.controls["scale"].value == pytest.approx(10.0)
    ex.controls["depth"].value = 99
    assert ex.controls["depth"].value == 20
    assert not ex.controls["scale"].continuous_update
    with pytest.raises(TraitError):
        ex.controls["scheme"].value = "not a scheme"


def test_init_explorer_reuses_a_given_cache():
    shared = W.WeightCache(seed=5, batch=8)
    w = shared.weight(1, 64, 64)
    ex = W.init_explorer(depth=3, width=64, widths=(64,), cache=shared)
    assert ex.cache is shared and shared.weight(1, 64, 64) is w
    assert ex.last_result["std"] == W.init_forward_stats(shared, "normal", 0.01, 3, 64,
                                                         "tanh")["std"]
    with pytest.raises(TypeError, match="cache must be a WeightCache"):
        W.init_explorer(depth=2, width=64, widths=(64,), cache={})


def test_vanished_status_never_says_minus_zero(cache):
    res = W.init_forward_stats(cache, "zeros", 1.0, 2, 64, "tanh")
    assert "exactly 0 from layer 1" in res["status"] and "-0" not in res["status"]
    ex = W.init_explorer(depth=3, width=64, widths=(64,))
    ex.controls["activation"].value = "linear"
    ex.controls["scheme"].value = "zeros"
    assert "-0" not in ex.last_result["status"] and "-0" not in _text(ex)


def test_init_figure_fits_its_labels():
    ex = W.init_explorer(depth=20, width=64, widths=(64,), max_panels=8)
    ex.controls["activation"].value = "linear"
    ex.controls["scale"].value = 1e-3
    fig = W._InitFigure(8)
    fig.draw(ex.last_result)
    fig.fig.canvas.draw()
    renderer = fig.fig.canvas.get_renderer()
    box = fig.fig.bbox
    for ax in fig.hax:
        for text in (ax.title, ax.xaxis.label):
            ext = text.get_window_extent(renderer)
            assert box.x0 <= ext.x0 and ext.x1 <= box.x1, text.get_text()
        assert "×1e" in ax.get_xlabel() or ax.get_xlabel() == "activation"
    hist_bottom = min(ax.xaxis.label.get_window_extent(renderer).y0 for ax in fig.hax)
    std_top = fig.sax.get_window_extent(renderer).y1
    assert 0 < hist_bottom - std_top < 0.12 * box.height


def test_init_explorer_overflow_message_in_output():
    ex = W.init_explorer(depth=20, width=256, widths=(256,))
    ex.controls["activation"].value = "linear"
    ex.controls["scale"].value = 10.0
    status = ex.last_result["status"]
    assert ex.last_result["diverged_at"] is not None       # overflow to inf ...
    assert status.startswith("exploded: activation std ")  # ... after exploding past 100×
    assert status in _text(ex) and _png_count(ex) == 1


def test_explorer_never_raises():
    def compute(x: float) -> dict:
        if x > 0.5:
            raise RuntimeError("boom")
        return {"status": "ok", "x": x}

    ex = W.Explorer([slider("x", "x", 0.1, 0.0, 1.0, 0.1)], compute,
                    lambda res: None)
    assert ex.last_result["x"] == 0.1
    ex.controls["x"].value = 0.9
    assert ex.last_result["status"] == "error: RuntimeError: boom"
    assert "error: RuntimeError: boom" in _text(ex) and _png_count(ex) == 0


@pytest.fixture(scope="module")
def mnist_ok() -> None:
    from trainlab.data import DataError, load_mnist

    try:
        load_mnist("10k", "val")
    except DataError as exc:
        pytest.skip(f"MNIST-10k not available: {exc}")


def test_lr_explorer_shows_divergence_without_bn(mnist_ok):
    ex = W.lr_explorer(lr=0.05, steps=30, n_train=400, n_val=100, width=64)
    assert ex.last_result["status"] == "ok"
    assert set(ex.last_result["final_train_loss"]) == {"no BN", "BN"}
    ex.controls["lr"].value = 10.0
    ex.wait()
    res = ex.last_result
    assert res["diverged"]["no BN"] and res["diverged_at"]["no BN"] <= 30
    assert res["status"].startswith("no BN: diverged: loss ")
    assert f"at step {res['diverged_at']['no BN']}" in res["status"]
    assert _png_count(ex) == 1 and res["status"] in _text(ex)
    assert f"no BN diverged at step {res['diverged_at']['no BN']}" in res["summary"]


def test_overlaid_runs_share_one_legend_beside_the_panels(mnist_ok):
    ex = W.init_training_explorer(steps=20, n_train=400, n_val=100, width=32)
    png = ex.last_png
    ex.controls["overlay"].value = True
    ex.wait()
    ex.controls["lr"].value = 0.5
    ex.wait()
    fig = ex.render(dict(ex.last_result))
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(ex.last_result["histories"]) == 2 and labels[-2:] == ["training", "validation"]
    assert labels[:2] == list(ex.last_result["histories"])
    assert all(ax.get_legend() is None for ax in fig.axes)
    ex.controls["overlay"].value = False
    ex.wait()
    ex.controls["lr"].value = 0.1
    ex.wait()
    fig = ex.render(dict(ex.last_result))   # one run: only the line styles, in a row above
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["training", "validation"]
    assert len(fig.legends) == 1 and all(ax.get_legend() is None for ax in fig.axes)
    assert ex.last_png == png


def test_init_training_explorer_reacts(mnist_ok):
    ex = W.init_training_explorer(steps=30, n_train=400, n_val=100, width=64)
    first = ex.last_result["final_train_loss"]
    assert math.isfinite(first) and 0 <= ex.last_result["final_val_acc"] <= 1
    ex.controls["scale"].value = 0.01
    ex.wait()
    assert ex.last_result["final_train_loss"] != first
    assert ex.last_result["params"]["scale"] == pytest.approx(0.01)


def test_keep_prob_explorer_reports_accuracy_over_seeds():
    ex = W.keep_prob_explorer(steps=20, record_every=10, n_train=100, train_sizes=(100,))
    res = ex.last_result
    assert res["status"] == "ok" and res["seeds"] == [0, 1, 2]
    assert res["val_acc"].shape == (3, 3) and list(res["step"]) == [0, 10, 19]
    assert res["acc_mean"] == pytest.approx(res["val_acc"][:, -1].mean())
    assert res["acc_sd"] == pytest.approx(res["val_acc"][:, -1].std())
    assert "seen" not in res and res["reference"]["keep_prob"] == 1.0
    slider = ex.controls["keep_prob"]
    assert (slider.min, slider.max, slider.step) == (0.3, 1.0, 0.05)
    before = ex.partial_draws
    slider.value = 0.7
    assert "training…" in _text(ex)
    ex.wait()
    assert ex.partial_draws > before and ex.last_result["params"]["keep_prob"] == 0.7
    assert ex.last_result["reference"] is res["reference"] and _png_count(ex) == 1
    assert "torch p = 0.30" in _text(ex) and "over 3 seeds" in _text(ex)
    slider.value = 0.5
    ex.wait()
    assert ex.last_result["acc_mean"] == res["acc_mean"]
    ex.controls["label_noise"].value = 0.0
    ex.wait()
    new_ref = ex.last_result["reference"]
    assert new_ref is not res["reference"], "a new setting trains its reference"
    assert new_ref["keep_prob"] == 1.0 and "no dropout" in _text(ex)
    ex.controls["width"].value = 32
    ex.controls["steps"].value = 100
    ex.wait()
    from trainlab.dropout import keep_prob_seeds

    direct = keep_prob_seeds(0.5, n_train=100, label_noise=0.0, hidden=(32, 32), steps=100,
                             lr=2e-3, record_every=10)
    np.testing.assert_array_equal(ex.last_result["val_acc"], direct["val_acc"])
    assert list(ex.last_result["reference"]["step"]) == list(direct["step"])
    with pytest.raises(ValueError, match="at least 3 seeds"):
        W.keep_prob_explorer(seeds=(0, 1))
    with pytest.raises(ValueError, match="width"):
        W.keep_prob_explorer(width=0)


def test_keep_prob_seeds_matches_lesson_runs():
    from trainlab.dropout import digits_split, dropout_benefit, keep_prob_seeds

    x, y, xv, yv = digits_split(100)
    assert x.shape == (100, 64) and xv.shape == (797, 64) and 0 <= x.min() <= x.max() <= 1
    ref = dropout_benefit(x, y, xv, yv, keep_probs=(0.5,), seeds=(0, 1, 2), steps=20,
                          record_every=10)
    res = keep_prob_seeds(0.5, n_train=100, steps=20, record_every=10, dtype=None)
    np.testing.assert_array_equal(res["val_acc"], ref[0.5]["val_acc"])
    with pytest.raises(ValueError, match="n_train must be"):
        digits_split(5000)
    with pytest.raises(ValueError, match="dtype must be"):
        keep_prob_seeds(0.5, dtype="float16")


def test_keep_prob_run_measures_in_eval_mode(mnist_ok):
    from trainlab.train import evaluate

    X, y, Xv, yv = W.keep_prob_data(100, 50, seed=3)
    assert X.shape == (100, 784) and Xv.shape == (50, 784)
    np.testing.assert_array_equal(W.keep_prob_data(100, 50, seed=3)[1], y)
    res = W.keep_prob_run(0.5, hidden=[32], n_train=100, n_val=50, steps=12,
                          record_every=5, seed=3)
    assert res["status"] == "ok" and 0 <= res["val_acc"] <= 1
    assert res["min_val_loss"] <= res["val_loss"]
    with pytest.raises(ValueError, match="keep_prob must be in"):
        W.keep_prob_run(1.5, hidden=[8], n_train=20, n_val=20, steps=2)
    with pytest.raises(ValueError, match="keep_prob must be in"):
        W.keep_prob_explorer(keep_prob=0.1)
    # the same model and data evaluated independently give the recorded final numbers
    import torch

    from trainlab.models import mlp
    from trainlab.train import train

    model = mlp(784, [32], 10, keep_prob=0.5, seed=3)
    train(model, (X, y), None, steps=12, batch_size=50, lr=1e-3, optimizer="adam",
          record_every=5, stats=False, seed=3, progress=False)
    with torch.no_grad():
        (tl, ta), (vl, va) = evaluate(model, X, y), evaluate(model, Xv, yv)
    assert res["train_loss"] == pytest.approx(tl, rel=1e-5)
    assert res["val_loss"] == pytest.approx(vl, rel=1e-5)
    assert (res["train_acc"], res["val_acc"]) == (ta, va)


@pytest.mark.slow
def test_keep_prob_explorer_opens_where_dropout_helps():
    ex = W.keep_prob_explorer()
    res, ref = ex.last_result, ex.last_result["reference"]
    assert res["keep_prob"] < 1.0 and ref["keep_prob"] == 1.0
    assert res["acc_mean"] - ref["acc_mean"] > res["acc_sd"] + ref["acc_sd"]
    assert "no dropout" in _text(ex)


def test_dead_relu_explorer_grows_with_lr(mnist_ok):
    ex = W.dead_relu_explorer(lr=0.01, steps=25, n_train=300, n_probe=200, width=32)
    low = ex.last_result["dead_total"]
    ex.controls["lr"].value = 2.0
    ex.wait()
    high = ex.last_result["dead_total"]
    assert 0 <= low < high <= 1 and len(ex.last_result["dead"]) == 3


# --------------------------------------------------------------------------------------------
# speed machinery of the init explorer, gradients, lecture legibility, live training
# --------------------------------------------------------------------------------------------
def test_grid_gives_the_same_numbers_as_one_run_per_scale(cache):
    from trainlab.init import init_forward_grid

    scales = [0.01, 0.1, 1.0, 10.0]
    grid = init_forward_grid(cache, "kaiming_normal", scales, 5, 128, "tanh")
    for s, res in zip(scales, grid, strict=True):
        one = W.init_forward_stats(cache, "kaiming_normal", s, 5, 128, "tanh")
        assert res["std"] == pytest.approx(one["std"], rel=1e-4)
        assert res["status"] == one["status"] and res["scale"] == s
    over = init_forward_grid(cache, "normal", [0.01, 10.0], 20, 256, "linear")
    assert over[0]["diverged_at"] is None and over[1]["diverged_at"] is not None
    assert init_forward_grid(cache, "normal", [1.0], 3, 64, "tanh", cancelled=lambda: True) == []


def test_backward_gradients_match_torch_autograd(cache):
    import torch

    width, depth = 64, 4
    res = W.init_forward_stats(cache, "xavier_normal", 1.5, depth, width, "tanh",
                               backward=True)
    std = res["weight_std"][0]
    a = torch.tensor(cache.inputs(width), dtype=torch.float64, requires_grad=True)
    acts = []
    for layer in range(1, depth + 1):
        w = torch.tensor(cache.weight(layer, width, width), dtype=torch.float64) * std
        a = torch.tanh(a @ w)
        a.retain_grad()
        acts.append(a)
    (a * torch.tensor(cache.output_grad(width), dtype=torch.float64)).sum().backward()
    expected = [float(t.grad.std(correction=0)) for t in acts]
    assert res["grad_std"] == pytest.approx(expected, rel=1e-4)
    assert len(res["grad_hist"]) == depth and res["grad_hist"][0][0].sum() == 16 * width


def test_exploding_and_vanishing_are_not_ok(cache):
    big = W.init_forward_stats(cache, "normal", 10.0, 3, 256, "linear")
    assert all(math.isfinite(s) for s in big["std"]) and big["std"][-1] > 1e4
    assert big["status"].startswith("exploded: activation std ") and "layer" in big["status"]
    small = W.init_forward_stats(cache, "normal", 1e-3, 3, 256, "linear")
    assert small["status"].startswith("vanished: activation std ")
    ex = W.init_explorer(depth=3, width=256, widths=(256,), scheme="normal", scale=10.0,
                         activations=("linear",))
    assert ex.last_result["status"].startswith("exploded") and "exploded" in _text(ex)


def test_depth_and_scale_moves_are_served_from_the_background_grid():
    ex = W.init_explorer(depth=6, width=64, widths=(64,), max_depth=20, scale=0.1)
    ex.grid.wait()
    key = ("normal", 64, "tanh", True)
    assert key in ex.grid.results
    for depth in (20, 3):
        ex.controls["depth"].value = depth
        direct = W.init_forward_stats(ex.cache, "normal", ex.controls["scale"].value, depth,
                                      64, "tanh")
        assert ex.last_result["std"] == pytest.approx(direct["std"], rel=1e-4)
        assert ex.last_result["status"] == W._init_status(direct)["status"]
    ex.controls["scale"].value = 10 ** -0.5
    assert ex.grid.lookup(key, ex.controls["scale"].value, 3) is not None
    ex.controls["gradients"].value = True
    assert len(ex.last_result["grad_std"]) == 3 and _png_count(ex) == 1


def test_explorer_stores_a_plain_image_for_front_ends_without_widgets():
    ex = W.init_explorer(depth=2, width=64, widths=(64,))
    bundle = ex._repr_mimebundle_()
    import ipywidgets

    if int(ipywidgets.__version__.split(".")[0]) >= 8:  # 7 (Colab) displays widgets its own way
        assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"])[:4] == b"\x89PNG"
    assert "std per layer" in bundle["text/plain"]


def test_lecture_legibility():
    from PIL import Image

    ex = W.init_explorer(depth=6, width=64, widths=(64,))
    png = base64.b64decode(ex.output.outputs[0]["data"]["image/png"])

    width_px = Image.open(io.BytesIO(png)).size[0]
    assert width_px >= 900
    fig = ex.render(ex.last_result)
    sizes = [t.get_fontsize() for ax in fig.axes for t in
             (ax.title, ax.xaxis.label, *ax.get_xticklabels())] + [fig._suptitle.get_fontsize()]
    assert min(sizes) >= 11  # points, at 100 dpi
    assert ex.controls["scale"].readout_format == ".3"
    assert [W.fmt(v) for v in (0.00316, 0.1, 31.62, 4100.0, 7e34)] == \
        ["0.00316", "0.1", "31.6", "4100", "7e34"]
    html = W._status_html("std per layer: 3.8 7e+22  |  exploding: std 7.0e+34 at layer 6")
    assert '<span style="white-space: nowrap">7e+22</span>' in html
    assert '<span style="white-space: nowrap">7.0e+34</span>' in html
    assert html.count("nowrap") == 12


def test_live_explorer_draws_partial_results_and_cancels_stale_runs():
    import threading

    gate = threading.Event()
    seen = []

    def compute(x: float, report, cancelled) -> dict:
        for i in range(3):
            report({"status": "ok", "x": x, "i": i, "progress": f"{i} of 3"})
            if x == 0.2 and not gate.wait(5):
                raise AssertionError("never released")
            if cancelled():
                seen.append(("cancelled", x))
                raise W.Cancelled
        return {"status": "ok", "x": x}

    def render(res):
        fig = W._new_figure(2, 1)
        fig.add_subplot().set_title(str(res["x"]))
        return fig

    ex = W.Explorer([slider("x", "x", 0.1, 0.0, 1.0, 0.1)], compute, render,
                    live=True)
    assert ex.last_result["x"] == 0.1 and ex.partial_draws >= 1
    drawn = ex.partial_draws
    ex.controls["x"].value = 0.2
    assert "training…" in _text(ex)
    deadline = time.monotonic() + 10
    while ex.partial_draws == drawn and time.monotonic() < deadline:   # 0.2's first curves
        time.sleep(0.01)
    partial = ex.shown_png
    assert partial is not None and partial != ex.last_png
    ex.controls["x"].value = 0.3
    # a newer value keeps the figure on screen (0.2's curves), not the last finished run's
    assert ex.shown_png == partial and "training…" in _text(ex)
    gate.set()
    ex.wait()
    assert ex.last_result["x"] == 0.3 and ("cancelled", 0.2) in seen
    assert "training" not in _text(ex) and _png_count(ex) == 1


def test_lr_explorer_draws_while_training(mnist_ok):
    ex = W.lr_explorer(lr=0.05, steps=60, n_train=400, n_val=100, width=32)
    before = ex.partial_draws
    ex.controls["activation"].value = "sigmoid"
    assert "training…" in _text(ex)
    ex.wait()
    assert ex.partial_draws > before and ex.last_result["params"]["activation"] == "sigmoid"
    ex.controls["bn"].value = False
    ex.wait()
    assert set(ex.last_result["final_train_loss"]) == {"no BN"}


def test_lr_explorer_shows_both_panels_while_the_first_net_trains(mnist_ok):
    """With BN on, the two nets train one after the other: the figure has its two panels from
    the first partial draw on (it used to be one wide panel, then two)."""
    ex = W.lr_explorer(lr=0.05, steps=20, n_train=200, n_val=100, width=16)
    hist = ex.last_result["histories"]["no BN"]
    fig = ex.render({"histories": {"no BN": hist}, "runs": ["no BN", "BN"],
                     "summary": "lr 0.05, relu: training no BN…"})
    plain, bn = fig.axes
    assert (plain.get_title(), bn.get_title()) == ("no BN", "BN")
    assert plain.lines and not bn.lines


def test_dead_relu_explorer_leaky_units_never_die(mnist_ok):
    ex = W.dead_relu_explorer(lr=2.0, steps=25, n_train=300, n_probe=200, width=32)
    ex.controls["activation"].value = "leaky_relu"
    ex.wait()
    res = ex.last_result
    assert res["dead_total"] == 0 and 0 <= res["inactive_total"] <= 1
    ex.controls["optimizer"].value = "adam"
    ex.wait()
    assert ex.last_result["params"]["optimizer"] == "adam"


def test_training_explorer_overlays_runs(mnist_ok):
    ex = W.init_training_explorer(steps=20, n_train=200, n_val=100, width=32)
    ex.controls["overlay"].value = True
    ex.wait()
    ex.controls["scale"].value = 0.1
    ex.wait()
    assert len(ex.last_result["histories"]) == 2
    ex.controls["overlay"].value = False
    ex.wait()
    assert len(ex.last_result["histories"]) == 1


def test_training_dashboard_shows_any_model_live(mnist_ok):
    from functools import partial

    from trainlab.models import mlp

    data = W.mnist_subset(200, 50, 0)
    ex = W.training_dashboard(partial(mlp, 784, [16] * 3, 10, activation="tanh"), data,
                              steps=30, record_every=10, n_probe=32)
    res = ex.last_result
    assert res["status"] == "ok" and [v["layer"] for v in res["layers"]] == [1, 2, 3]
    assert res["values"][0]["act"].shape == (32, 16) and _png_count(ex) == 1
    assert len(res["history"].series("update_ratio", layer=1)[0]) == 4
    draws = ex.partial_draws
    ex.controls["lr"].value = 10.0
    assert "training…" in _text(ex)
    ex.wait()
    assert ex.partial_draws > draws and ex.last_result["params"]["lr"] == 10.0
    assert ex.last_result["status"] == "ok" or "diverged" in ex.last_result["status"]


def test_weights_drawn_without_keeping_do_not_evict_the_shallow_layers():
    small = W.WeightCache(max_bytes=2 * 64 * 64 * 4)
    w1 = small.weight(1, 64, 64)
    w9 = small.weight(9, 64, 64, keep=False)
    assert small.weight(1, 64, 64) is w1 and small.nbytes == w1.nbytes
    np.testing.assert_array_equal(w9, small.weight(9, 64, 64))


def test_explorer_figures_follow_the_course_style():
    from PIL import Image

    from trainlab import style

    try:
        for name, width_px in (("lecture", 1200), ("screen", 960)):
            style.use(name)
            ex = W.init_explorer(depth=3, width=64, widths=(64,), background=False)
            png = Image.open(io.BytesIO(ex.last_png))
            assert png.size[0] == width_px and round(png.info["dpi"][0]) >= 100
            fig = ex.render(ex.last_result)
            assert fig._suptitle.get_fontsize() == style.text_size("title")
            assert min(t.get_fontsize() for t in fig.axes[0].get_xticklabels()) == \
                style.text_size()
    finally:
        style.use("screen")


def test_training_explorers_train_in_float32_whatever_the_default_dtype(mnist_ok):
    import torch

    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        model, hist = W._train_mlp(W._RunSpec(n_train=100, n_val=50, steps=3, batch_size=20),
                                   hidden=[8], lr=0.1)
    finally:
        torch.set_default_dtype(before)
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert hist.steps_run == 3


def test_explorer_compute_trains_in_float64_when_a_lesson_prints_its_numbers(mnist_ok):
    import torch

    spec = W._RunSpec(n_train=100, n_val=50, steps=3, batch_size=20)
    model, _ = W._train_mlp(spec, hidden=[8], lr=0.1, dtype="float64")
    assert {p.dtype for p in model.parameters()} == {torch.float64}
    with pytest.raises(ValueError, match="dtype"):
        W._train_mlp(spec, hidden=[8], lr=0.1, dtype="float16")
    ex = W.dead_relu_explorer(depth=1, width=8, steps=5, n_train=100)
    ex.wait()
    loss64 = ex.compute(lr=0.1, dtype="float64")["final_train_loss"]
    assert loss64 == ex.compute(lr=0.1, dtype="float64")["final_train_loss"]
    assert loss64 != ex.compute(lr=0.1)["final_train_loss"]  # the slider's float32 run


def test_init_explorer_shows_figures_drawn_in_the_background_identical_to_a_redraw():
    ex = W.init_explorer(depth=3, width=64, widths=(64,), max_depth=4)
    ex.prerender.wait(120)
    key = (ex.controls["scheme"].value, 64, ex.controls["activation"].value, True)
    assert sum(k[0] == key and k[2] == 3 for k in ex.prerender.pngs) == len(ex.grid.scales)
    ex.controls["scale"].value = 0.1
    shown = ex.last_png
    assert shown == ex.prerender.get(key, ex.grid.index(0.1), 3)
    res = {k: v for k, v in ex.last_result.items() if k != "params"}
    assert shown == W.render_png(ex.render(res))
    ex.controls["depth"].value = 4
    assert ex.last_result["depth"] == 4 and not ex.last_result["status"].startswith("error")


def test_init_explorer_serves_the_slider_neighbours_before_the_whole_grid(monkeypatch):
    """The background thread computes the scale's three neighbours on each side at the shown
    depth first and draws their figures, while the whole grid (here held back) is pending."""
    release = threading.Event()
    from trainlab.explorers import initialisation as init_module

    real = init_module.init_forward_grid

    def held(cache, scheme, scales, *args, **kwargs):
        if len(scales) > 7:
            release.wait(120)
        return real(cache, scheme, scales, *args, **kwargs)

    monkeypatch.setattr(init_module, "init_forward_grid", held)
    try:
        ex = W.init_explorer(depth=3, width=64, widths=(64,), max_depth=6, scale=0.01)
        key = (ex.controls["scheme"].value, 64, ex.controls["activation"].value, True)
        centre = ex.grid.index(0.01)
        deadline = time.monotonic() + 60
        while len([k for k in ex.prerender.pngs if k[0] == key]) < 7:
            assert time.monotonic() < deadline, "the neighbours were not drawn"
            time.sleep(0.02)
        assert key not in ex.grid.results
        assert sorted(ex.grid.available(key, 3)) == list(range(centre - 3, centre + 4))
        assert ex.grid.available(key, 4) == []
        assert ex.grid.lookup(key, ex.grid.scales[centre - 3], 4) is None
        ex.controls["scale"].value = ex.grid.scales[centre - 2]
        assert ex.last_png == ex.prerender.get(key, centre - 2, 3)
        direct = W.init_forward_stats(ex.cache, "normal", ex.grid.scales[centre - 2], 3, 64,
                                      ex.controls["activation"].value)
        assert ex.last_result["std"] == pytest.approx(direct["std"], rel=1e-6)
    finally:
        release.set()
    ex.prerender.wait(120)
    assert key in ex.grid.results and not ex.grid.nearby
    assert sum(k[0] == key and k[2] == 3 for k in ex.prerender.pngs) == len(ex.grid.scales)


def _tanh_mlp() -> Any:
    from trainlab.models import mlp

    return mlp(784, [16] * 3, 10, activation="tanh")


@pytest.mark.parametrize("build, control, value", [
    (lambda: W.lr_explorer(lr=0.05, steps=30, n_train=400, n_val=100, width=32), "bn", False),
    (lambda: W.init_training_explorer(steps=30, n_train=400, n_val=100, width=32), "lr", 10.0),
    (lambda: W.dead_relu_explorer(lr=2.0, steps=25, n_train=300, n_probe=200, width=32),
     "optimizer", "adam"),
    (lambda: W.keep_prob_explorer(steps=20, record_every=10, n_train=100,
                                  train_sizes=(100,)), "keep_prob", 0.8),
    (lambda: W.training_dashboard(_tanh_mlp, W.mnist_subset(200, 50, 0), steps=30,
                                  record_every=10, n_probe=32), "lr", 10.0),
    (lambda: W.landscape_explorer(steps=6, probe_every=3, n_etas=2, depth=2, width=16),
     "noise", 0.5),
    (lambda: W.batch_groups_explorer(seeds=1, steps=5), "groups", 2),
])
def test_explorers_redraw_their_kept_figure_as_a_new_one(mnist_ok, build, control, value):
    """An explorer keeps its figure between draws and only swaps the data in it: the
    opening result drawn again after other runs (partial curves, another layout, a divergence)
    is the same image as on the opening's new figure."""
    ex = build()
    opening, png = dict(ex.last_result), ex.last_png
    ex.controls[control].value = value
    ex.wait()
    assert ex.last_png != png and not ex.last_result["status"].startswith("error")
    assert ex._draw(opening) == png


def test_a_newer_run_waits_for_the_stale_one_so_its_numbers_do_not_depend_on_timing():
    """torch's random state is global: a stale run still training beside the new one would
    change the new run's dropout masks. Moves made without waiting give the numbers of the
    last value alone."""
    from trainlab.dropout import keep_prob_seeds

    ex = W.keep_prob_explorer(steps=60, record_every=20, n_train=100, train_sizes=(100,),
                              width=32, widths=(32,), keep_prob=1.0)
    for value in (0.3, 0.4, 0.6):
        ex.controls["keep_prob"].value = value
    ex.wait()
    direct = keep_prob_seeds(0.6, n_train=100, label_noise=0.3, hidden=(32, 32), steps=60,
                             lr=2e-3, record_every=20)
    np.testing.assert_array_equal(ex.last_result["val_acc"], direct["val_acc"])


# --------------------------------------------------------------------------------------------
# status lines: every explorer names what it sees with trainlab.health's thresholds
# --------------------------------------------------------------------------------------------
def _init_status(ex: W.Explorer, **values) -> str:
    params = {"scheme": "normal", "scale": 1.0, "depth": 4, "width": 256,
              "activation": "tanh", "gain": True, "gradients": False, **values}
    return ex.compute(**params)["status"]


def test_init_explorer_status_names_each_state():
    from trainlab import health

    ex = W.init_explorer(depth=4, width=256, widths=(256,), background=False)
    # the opening setting (normal × 0.01, tanh) shrinks the signal ~0.16× per layer
    assert ex.last_result["status"].startswith("vanished: activation std ")
    assert f"(< {health.VANISHED_RATIO:g} × input std" in ex.last_result["status"]
    assert ex.last_result["status"] in _text(ex)
    assert _init_status(ex, scheme="kaiming_normal", activation="relu") == "ok"
    assert _init_status(ex, scheme="xavier_normal", activation="tanh") == "ok"
    assert _init_status(ex, activation="linear").startswith("exploded: activation std ")
    assert _init_status(ex, scale=10.0, depth=20, activation="linear").startswith(
        "exploded: activation std ")             # overflow to inf counts as exploded
    assert _init_status(ex, scale=1.0).startswith("saturated: ")
    assert _init_status(ex, scheme="zeros").startswith("vanished: activation std 0 at layer 1")
    both = _init_status(ex, scale=0.01, gradients=True)
    assert "vanished: activation std" in both and "vanished: gradient dL/da std" in both
    assert "output gradient std" in both


def test_init_explorer_status_is_the_same_from_the_grid_and_the_prerendered_figure():
    ex = W.init_explorer(depth=4, width=64, widths=(64,), scale=0.01)
    ex.prerender.wait()
    key = ("normal", 64, "tanh", True)
    for scale in (0.01, 1.0):
        ex.controls["scale"].value = scale
        direct = W._init_status(W.init_forward_stats(ex.cache, "normal", scale, 4, 64, "tanh"))
        assert ex.last_result["status"] == direct["status"] != "ok"
        assert ex.grid.lookup(key, scale, 4)["status"] == direct["status"]


def _fake_history(losses, val_acc, diverged_at=None, status=""):
    from trainlab.train import History

    hist = History(curves=[{"step": 10 * i, "train_loss": v, "val_acc": val_acc}
                           for i, v in enumerate(losses)])
    if diverged_at is not None:
        hist.diverged, hist.diverged_at, hist.status = True, diverged_at, status
    return hist


def test_trained_problems_each_state():
    import torch

    from trainlab.models import mlp

    x = np.random.default_rng(0).standard_normal((20, 5))
    net = mlp(5, [8, 8], 3, seed=0)
    assert W._trained_problems(net, _fake_history([1.1, 0.5], 0.9), x, 3) == []
    chance = W._trained_problems(net, _fake_history([1.1, 1.1], 0.36), x, 3)
    assert chance == ["chance accuracy: validation accuracy 0.36 (< 1/3 + 0.05 = 0.38)"]
    grown = W._trained_problems(net, _fake_history([1.1, 12.0], 0.1), x, 3, label="BN")
    assert grown == ["BN: diverged: loss 12 at step 10 (> 10 × first loss 1.1)"]
    stopped = _fake_history([1.1, 1.0], 0.5, diverged_at=17,
                            status="diverged at step 17 (loss = 6.814e+08 > max_loss = 1e+06)")
    assert W._trained_problems(net, stopped, x, 3) == [
        "diverged: loss 6.8e8 at step 17 (> 10 × first loss 1.1)"]
    nan = _fake_history([1.1], 0.5, diverged_at=3, status="diverged at step 3 (loss = nan)")
    assert W._trained_problems(net, nan, x, 3) == ["diverged: loss not finite at step 3"]
    with torch.no_grad():
        net.fc1.bias[:6] = -100.0                    # 6 of 8 units of layer 1 never fire
    dead = W._trained_problems(net, _fake_history([1.1, 0.5], 0.9), x, 3)
    assert dead == ["dead units: 75 % of layer 1 (> 50 %)"]


def test_init_training_explorer_status_chance_and_diverged(mnist_ok):
    ex = W.init_training_explorer(steps=30, n_train=400, n_val=100, width=64)
    base = {"scheme": "normal", "depth": 3, "width": 64, "activation": "tanh"}
    res = ex.compute(scale=0.01, lr=0.1, **base)
    assert res["status"].startswith("chance accuracy: validation accuracy ")
    res = ex.compute(scale=1.0, lr=10.0, **{**base, "scheme": "kaiming_normal",
                                              "activation": "relu"})
    assert res["diverged"] and res["status"].startswith("diverged: loss ")


def test_dead_relu_explorer_status_names_dead_units(mnist_ok):
    ex = W.dead_relu_explorer(lr=0.01, steps=30, n_train=400, n_probe=200, width=64)
    assert ex.last_result["status"] in ("ok", ) or "chance" in ex.last_result["status"]
    res = ex.compute(lr=0.3, optimizer="adam")
    assert "dead units: " in res["status"] and "(> 50 %)" in res["status"]
    assert any(d > 0.5 for d in res["dead"])


def test_keep_prob_explorer_status_says_chance(mnist_ok):
    ex = W.keep_prob_explorer(steps=2, record_every=1, n_train=100, train_sizes=(100,),
                              step_counts=(2,))
    assert ex.last_result["status"].startswith(
        "chance accuracy: validation accuracy (mean over seeds) ")
    assert W._keep_prob_status({"acc_mean": 0.8, "status": "ok"}) == "ok"
    assert W._keep_prob_status({"acc_mean": 0.8, "status": "diverged at step 3 (loss = nan)"}
                               ).startswith("diverged: a seed's loss was not finite")


def test_preprocessing_explorer_status_diverging_then_diverged():
    ex = W.preprocessing_explorer(step_fraction=1.1, steps=1)
    assert ex.last_result["status"].startswith("diverging: |1 - η λ_max| = ")
    ex.controls["steps"].value = 60
    assert ex.last_result["status"].startswith("diverged: loss ")
    assert "> 10 × first loss" in ex.last_result["status"]
    ex.controls["step"].value = 0.5
    assert ex.last_result["status"] == "ok"


def test_landscape_status_each_state():
    from types import SimpleNamespace as P

    calm = [P(loss=2.0, losses=np.array([1.9, 2.5])) for _ in range(3)]
    steep = calm[:2] + [P(loss=2.0, losses=np.array([1.0, np.inf]))]
    assert W._landscape_status({"BN": calm}, {"BN": [2.3, 2.0]}, 0.4) == "ok"
    text = W._landscape_status({"no BN": steep}, {"no BN": [2.3, 2.0]}, 0.4)
    assert text.startswith("no BN: diverged: a step η ≤ 0.4 along the gradient at 1 of 3")
    text = W._landscape_status({"no BN": calm}, {"no BN": [2.3, np.nan]}, 0.4)
    assert text == "no BN: diverged: loss not finite at step 1"


def test_batch_groups_status_each_state():
    def res(bn_err, gn_err, diverged=False):
        return {"B": 2, "groups": 10, "seeds": 1,
                "bn": {"eval_error": [bn_err], "train_error": [0.1], "diverged": [diverged]},
                "gn": {"eval_error": [gn_err], "train_error": [0.1], "diverged": [False]}}

    assert W._batch_groups_status(res(0.2, 0.2)) == "ok"
    assert W._batch_groups_status(res(0.9, 0.2)) == (
        "BN (B = 2): chance accuracy: test-mode accuracy 0.10 (< 1/10 + 0.05 = 0.15)")
    assert W._batch_groups_status(res(0.2, 0.88)).startswith(
        "GN (G = 10): chance accuracy: validation accuracy 0.12")
    assert W._batch_groups_status(res(0.2, 0.2, True)) == (
        "BN (B = 2): diverged: loss not finite in 1 of 1 seeds")


def test_dashboard_status_each_state(mnist_ok):
    from functools import partial

    from trainlab.models import mlp

    data = W.mnist_subset(200, 50, 0)
    ex = W.training_dashboard(partial(mlp, 784, [16] * 3, 10, activation="tanh",
                                      init="normal", init_scale=1.0), data,
                              steps=20, record_every=10, n_probe=32)
    assert "saturated: " in ex.last_result["status"]
    res = ex.compute(lr=10.0, optimizer="sgd")
    assert res["status"].startswith("diverged: loss ")
    tiny = W.training_dashboard(partial(mlp, 784, [16] * 3, 10, activation="tanh",
                                        init="normal", init_scale=1e-4), data,
                                steps=2, record_every=1, n_probe=32)
    status = tiny.last_result["status"]
    assert "chance accuracy" in status and "vanished: activation std" in status
