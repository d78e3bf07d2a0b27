"""Tests of trainlab.train: the recorder against hand computations, the loop, its edge cases."""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from trainlab.models import cnn, mlp
from trainlab.train import (
    CURVE_METRICS,
    LAYER_METRICS,
    History,
    evaluate,
    find_layers,
    pre_activation_stats,
    train,
)

X_TINY = np.array([[1.0, 2.0], [-1.0, 0.5], [0.3, -2.0], [2.0, 1.0]])
Y_TINY = np.array([0, 1, 1, 0])
W1 = np.array([[1.0, -1.0], [0.5, 2.0], [0.0, 0.0]])
B1 = np.array([0.0, 0.1, -1.0])
W2 = np.array([[1.0, 0.5, -1.0], [-0.5, 1.0, 2.0]])
B2 = np.array([0.1, -0.1])


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAINLAB_NO_PROGRESS", "1")


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Tiny matrices run fastest, and with the least jitter on a shared machine, on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    return x[:1400], y[:1400], x[1400:], y[1400:]


def tiny_net(activation: nn.Module | None = None,
             dtype: torch.dtype = torch.float32) -> nn.Sequential:
    """2 -> 3 -> 2 network with the fixed weights above (unit 3 of layer 1 is always dead)."""
    model = nn.Sequential(OrderedDict(
        fc1=nn.Linear(2, 3, dtype=dtype), act1=activation or nn.ReLU(),
        out=nn.Linear(3, 2, dtype=dtype)))
    with torch.no_grad():
        for layer, w, b in ((model.fc1, W1, B1), (model.out, W2, B2)):
            layer.weight.copy_(torch.tensor(w))
            layer.bias.copy_(torch.tensor(b))
    return model


def hand_step() -> dict[str, float]:
    """One full-batch cross-entropy step of tiny_net, by hand in float64 NumPy."""
    z = X_TINY @ W1.T + B1
    a = np.maximum(z, 0.0)
    logits = a @ W2.T + B2
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    n = len(Y_TINY)
    loss = -np.mean(np.log(p[np.arange(n), Y_TINY]))
    dlogits = (p - np.eye(2)[Y_TINY]) / n
    dz = (dlogits @ W2) * (z > 0)
    dw1 = dz.T @ X_TINY
    return {
        "z": z, "a": a, "dw1": dw1, "loss": loss,
        "acc": np.mean(logits.argmax(axis=1) == Y_TINY),
        "pre_mean": z.mean(), "pre_std": z.std(), "act_mean": a.mean(), "act_std": a.std(),
        "dead": 1 / 3, "grad_norm": np.linalg.norm(dw1),
        "pre_grad_rms": np.sqrt(np.mean(dz ** 2)), "weight_norm": np.linalg.norm(W1),
    }


def test_hand_gradient_agrees_with_autograd() -> None:
    model = tiny_net(dtype=torch.float64)
    loss = nn.functional.cross_entropy(model(torch.tensor(X_TINY)), torch.tensor(Y_TINY))
    loss.backward()
    ref = hand_step()
    np.testing.assert_allclose(model.fc1.weight.grad.numpy(), ref["dw1"], rtol=1e-12)
    assert loss.item() == pytest.approx(ref["loss"], rel=1e-12)


def test_recorder_matches_hand_computed_statistics() -> None:
    lr = 0.1
    history = train(tiny_net(), (X_TINY, Y_TINY), steps=1, batch_size=4, lr=lr,
                    record_every=1, progress=False)
    ref = hand_step()
    (rec,) = history.records
    assert (rec["step"], rec["layer"], rec["name"], rec["activation"]) == (0, 1, "act1", "relu")
    for key in ("pre_mean", "pre_std", "act_mean", "act_std", "grad_norm", "pre_grad_rms",
                "weight_norm"):
        assert rec[key] == pytest.approx(ref[key], rel=1e-5, abs=1e-7), key
    np.testing.assert_allclose([rec["pre_p15"], rec["pre_p50"], rec["pre_p85"]],
                               np.percentile(ref["z"], [15, 50, 85]), rtol=1e-5)
    assert rec["dead"] == pytest.approx(1 / 3)
    assert math.isnan(rec["saturated"])
    assert rec["update_ratio"] == pytest.approx(lr * ref["grad_norm"] / ref["weight_norm"],
                                                rel=1e-4)
    (curve,) = history.curves
    assert curve["train_loss"] == pytest.approx(ref["loss"], rel=1e-5)
    assert curve["train_acc"] == pytest.approx(ref["acc"])
    assert curve["lr"] == lr
    assert curve["epoch"] == 1.0
    assert math.isnan(curve["val_loss"])


def test_update_ratio_measures_the_actual_step_of_momentum_and_adam() -> None:
    ref = hand_step()
    for optimizer, expected in (("momentum", 0.1 * ref["grad_norm"]), ("adam", None)):
        model = tiny_net()
        w0 = model.fc1.weight.detach().clone()
        history = train(model, (X_TINY, Y_TINY), steps=1, batch_size=4, lr=0.1,
                        optimizer=optimizer, record_every=1, progress=False)
        moved = (model.fc1.weight.detach() - w0).norm().item() / w0.norm().item()
        assert history.records[0]["update_ratio"] == pytest.approx(moved, rel=1e-6)
        if expected is not None:
            assert moved == pytest.approx(expected / ref["weight_norm"], rel=1e-4)


def test_saturation_fraction_of_tanh_and_sigmoid() -> None:
    x = np.array([[3.0, 0.0], [0.1, 0.0], [-4.0, 0.0]])
    for act, fn, test in ((nn.Tanh(), np.tanh, lambda a: np.abs(a) > 0.99),
                          (nn.Sigmoid(), lambda z: 1 / (1 + np.exp(-z)),
                           lambda a: (a < 0.01) | (a > 0.99))):
        model = tiny_net(act)
        (stats,) = pre_activation_stats(model, x)
        z = x @ W1.T + B1
        assert stats["saturated"] == pytest.approx(np.mean(test(fn(z))))
        assert stats["pre_mean"] == pytest.approx(z.mean(), rel=1e-6)
        assert stats["dead"] == 0.0


def test_dead_units_need_zero_output_for_every_example() -> None:
    model = tiny_net()
    x = np.array([[1.0, 0.0], [-1.0, 0.0]])
    (stats,) = pre_activation_stats(model, x, return_values=True)
    np.testing.assert_allclose(stats["pre"], x @ W1.T + B1, rtol=1e-6)
    np.testing.assert_allclose(stats["act"], np.maximum(x @ W1.T + B1, 0), rtol=1e-6)
    assert stats["dead"] == pytest.approx(1 / 3)


def test_dead_channels_of_a_convolution() -> None:
    conv = nn.Conv2d(1, 2, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, 0.0]).reshape(2, 1, 1, 1))
        conv.bias.copy_(torch.tensor([0.0, -1.0]))
    model = nn.Sequential(OrderedDict(conv1=conv, act1=nn.ReLU()))
    x = np.random.default_rng(0).normal(size=(3, 1, 4, 4))
    (stats,) = pre_activation_stats(model, x)
    assert stats["dead"] == 0.5


def test_find_layers_pairs_activations_with_their_weights() -> None:
    names = [(i.layer, i.name, i.weight, i.activation)
             for i in find_layers(mlp(4, [8, 8], 2, norm="bn_after", activation="tanh"))]
    assert names == [(1, "act1", "fc1", "tanh"), (2, "act2", "fc2", "tanh")]
    assert [i.weight for i in find_layers(cnn(norm="bn"))] == ["conv1", "conv2"]
    assert [i.weight for i in find_layers(mlp(4, [8], 2, norm="wn"))] == ["fc1"]
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        find_layers("model")


def test_hooks_are_removed(digits: tuple) -> None:
    x, y, xv, yv = digits
    model = mlp(64, [16, 16], 10)
    train(model, (x, y), (xv, yv), steps=5, record_every=2, progress=False)
    pre_activation_stats(model, x[:8])
    train(model, (x, y), steps=5, lr=1e9, progress=False)
    for module in model.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks


def test_loop_learns_and_records_on_schedule(digits: tuple) -> None:
    x, y, xv, yv = digits
    history = train(mlp(64, [32], 10), (x, y), (xv, yv), steps=201, batch_size=32, lr=0.1,
                    record_every=50)
    steps, loss = history.series("train_loss")
    assert steps.tolist() == [0, 50, 100, 150, 200]
    assert loss[-1] < 0.5 * loss[0]
    assert history.final("val_acc") > 0.85
    assert history.status == "completed 201 steps" and not history.diverged
    assert history.steps_run == 201
    assert history.layers == [1]
    assert len(history.records) == 5
    layer_steps, grad = history.series("grad_norm", layer=1)
    assert layer_steps.tolist() == steps.tolist() and np.all(grad > 0)
    np.testing.assert_array_equal(history.series("dead", layer="act1")[1],
                                  [r["dead"] for r in history.records])


def test_validation_runs_in_eval_mode_then_back_to_train(digits: tuple) -> None:
    x, y, xv, yv = digits
    modes: list[tuple[int, bool]] = []

    class ModeSpy(nn.Module):
        def forward(self, t: torch.Tensor) -> torch.Tensor:
            modes.append((t.shape[0], self.training))
            return t

    model = mlp(64, [16], 10, keep_prob=0.5)
    model.add_module("spy", ModeSpy())
    train(model, (x, y), (xv, yv), steps=4, batch_size=16, record_every=2, progress=False)
    assert model.training
    batch_modes = [m for n, m in modes if n == 16]
    val_modes = [m for n, m in modes if n == len(xv)]
    assert batch_modes == [True] * 4 and val_modes == [False] * 3
    model.eval()
    evaluate(model, xv, yv)
    assert not model.training


def test_evaluate_matches_direct_computation(digits: tuple) -> None:
    x, y, xv, yv = digits
    model = mlp(64, [16], 10, norm="bn", seed=3)
    loss, acc = evaluate(model, xv, yv, batch_size=100)
    model.eval()
    with torch.no_grad():
        out = model(torch.tensor(xv))
    assert loss == pytest.approx(nn.functional.cross_entropy(out, torch.tensor(yv)).item(),
                                 rel=1e-5)
    assert acc == pytest.approx((out.argmax(1).numpy() == yv).mean())
    mse, mse_acc = evaluate(model, xv, yv, loss="mse")
    assert mse == pytest.approx(
        ((out - nn.functional.one_hot(torch.tensor(yv), 10)) ** 2).mean().item(), rel=1e-5)
    assert mse_acc == acc


def test_divergence_stops_cleanly(digits: tuple) -> None:
    x, y, _, _ = digits
    history = train(mlp(64, [32, 32], 10), (x, y), steps=200, lr=1e6, record_every=1,
                    progress=False)
    assert history.diverged
    k = history.diverged_at
    assert 0 <= k < 200
    assert history.status.startswith(f"diverged at step {k} (loss = ")
    assert history.steps_run == k
    assert all(c["step"] < k for c in history.curves)
    assert all(r["step"] < k for r in history.records)
    assert len(history.curves) == k


def test_nan_loss_status(digits: tuple) -> None:
    x, y, _, _ = digits
    history = train(mlp(64, [32, 32], 10), (x, y), steps=300, lr=1e6, max_loss=None,
                    progress=False)
    assert history.diverged
    assert history.status in (f"diverged at step {history.diverged_at} (loss = nan)",
                              f"diverged at step {history.diverged_at} (loss = inf)")
    assert math.isnan(History().final("train_loss"))


def test_max_loss_threshold_message(digits: tuple) -> None:
    x, y, _, _ = digits
    history = train(mlp(64, [16], 10), (x, y), steps=10, max_loss=1.0, progress=False)
    assert history.diverged_at == 0
    assert history.status.startswith("diverged at step 0 (loss = ")
    assert history.status.endswith(" > max_loss = 1)")
    assert history.curves == [] and history.records == []


def _comparable(history: History) -> str:
    d = history.to_dict()
    d.pop("seconds")
    return json.dumps(d)


def test_runs_are_deterministic(digits: tuple) -> None:
    x, y, xv, yv = digits

    def run(seed: int) -> History:
        return train(mlp(64, [32, 32], 10, keep_prob=0.7, norm="noisy_bn"), (x, y), (xv, yv),
                     steps=30, record_every=10, seed=seed, progress=False)

    assert _comparable(run(0)) == _comparable(run(0))
    assert _comparable(run(0)) != _comparable(run(1))


def test_mse_regression_and_one_hot_targets(digits: tuple) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 3)).astype(np.float32)
    t = x @ np.array([1.0, -2.0, 0.5]) + 0.1
    history = train(mlp(3, [], 1, init="zeros"), (x, t), steps=200, batch_size=32, lr=0.05,
                    loss="mse", record_every=50, stats=False, progress=False)
    _, loss = history.series("train_loss")
    assert loss[-1] < 1e-2 * loss[0]
    assert math.isnan(history.final("train_acc")) and history.records == []
    xd, yd, _, _ = digits
    one_hot = train(mlp(64, [16], 10), (xd, yd), steps=200, loss="mse", lr=0.5,
                    record_every=50, progress=False)
    assert one_hot.final("train_acc") > 0.6 > 0.1 > one_hot.curves[0]["train_acc"]


def test_cnn_trains_and_records_channels(digits: tuple) -> None:
    x, y, _, _ = digits
    images = x.reshape(-1, 1, 8, 8)
    history = train(cnn(1, (4, 8), 10, image_size=8, norm="bn"), (images, y), steps=20,
                    record_every=10, progress=False)
    assert history.layers == [1, 2]
    assert {r["step"] for r in history.records} == {0, 10, 19}


def test_max_seconds_stops_after_recording() -> None:
    x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    history = train(mlp(4, [8], 2), (x, y), steps=10**6, record_every=10**6, max_seconds=0.05,
                    batch_size=8, progress=False)
    last = history.curves[-1]["step"]
    assert history.status == f"stopped at step {last}: max_seconds = 0.05 reached"
    assert history.steps_run == last + 1 < 10**6


def test_history_helpers(digits: tuple) -> None:
    x, y, _, _ = digits
    history = train(mlp(64, [8, 8], 10), (x, y), steps=3, record_every=1, progress=False)
    d = json.loads(json.dumps(history.to_dict()))
    assert set(d["curves"][0]) == {"step", *CURVE_METRICS}
    assert set(d["records"][0]) == {"step", "layer", "name", "activation", *LAYER_METRICS}
    assert history.final("pre_std", layer=2) == history.records[-1]["pre_std"]
    assert "3 record steps, 2 layers" in repr(history)
    with pytest.raises(ValueError, match="a layer metric: pass layer="):
        history.series("grad_norm")
    with pytest.raises(ValueError, match="unknown curve metric 'acc'"):
        history.series("acc")
    with pytest.raises(ValueError, match=r"unknown layer 3; valid: numbers \[1, 2\]"):
        history.series("grad_norm", layer=3)
    with pytest.raises(ValueError, match="unknown layer metric 'val_acc'"):
        history.series("val_acc", layer=1)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"steps": 0}, ValueError, "steps must be an int >= 1, got 0"),
    ({"batch_size": 0}, ValueError, "batch_size must be an int >= 1, got 0"),
    ({"batch_size": 11}, ValueError, r"batch_size must be in \[1, 10\] .* got 11"),
    ({"lr": 0.0}, ValueError, r"lr must be a number in \(0.0, inf\), got 0.0"),
    ({"lr": float("nan")}, ValueError, "lr must be"),
    ({"optimizer": "rmsprop"}, ValueError, "unknown optimizer 'rmsprop'; valid: sgd, momentum"),
    ({"loss": "hinge"}, ValueError, "unknown loss 'hinge'; valid: ce, mse"),
    ({"momentum": 1.0}, ValueError, "momentum must be"),
    ({"weight_decay": -1.0}, ValueError, "weight_decay must be"),
    ({"record_every": 0}, ValueError, "record_every must be"),
    ({"seed": -2}, ValueError, "seed must be"),
    ({"max_seconds": 0}, ValueError, "max_seconds must be"),
])
def test_train_rejects_bad_arguments(kwargs: dict, error: type, match: str) -> None:
    x = np.zeros((10, 4), dtype=np.float32)
    y = np.zeros(10, dtype=np.int64)
    args = {"steps": 2, "progress": False, "batch_size": 4, **kwargs}
    with pytest.raises(error, match=match):
        train(mlp(4, [3], 2), (x, y), **args)


@pytest.mark.parametrize(("x", "y", "error", "match"), [
    (np.zeros((10, 4)), np.zeros(9, dtype=int), ValueError, "same length, got 10 and 9"),
    (np.zeros((10, 4)), np.zeros(10), TypeError, "y must be a 1-D integer array"),
    (np.zeros((10, 4)), np.full(10, 2), ValueError, r"labels must be in \[0, 1\]"),
    (np.zeros((10, 4)), np.full(10, -1), ValueError, "labels must be >= 0"),
    (np.full((10, 4), np.nan), np.zeros(10, dtype=int), ValueError, "X contains NaN"),
    (np.zeros((10, 5)), np.zeros(10, dtype=int), ValueError, "cannot process X of shape"),
    (np.zeros(10), np.zeros(10, dtype=int), ValueError, "ndim >= 2"),
])
def test_train_rejects_bad_data(x: np.ndarray, y: np.ndarray, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        train(mlp(4, [3], 2), (x, y), steps=1, batch_size=2, progress=False)


def test_train_rejects_bad_containers() -> None:
    x = np.zeros((10, 4), dtype=np.float32)
    with pytest.raises(TypeError, match="train_data must be a pair"):
        train(mlp(4, [3], 2), x, steps=1)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        train("net", (x, np.zeros(10, dtype=int)), steps=1)
    with pytest.raises(ValueError, match="val_data: X and y must have the same length"):
        train(mlp(4, [3], 2), (x, np.zeros(10, dtype=int)), (x, np.zeros(3, dtype=int)),
              steps=1, batch_size=2)
    with pytest.raises(ValueError, match="mse targets of shape"):
        train(mlp(4, [3], 2), (x, np.zeros((10, 3))), steps=1, batch_size=2, loss="mse")


def test_sgd_step_seconds_leaves_model_unchanged():
    from trainlab.models import mlp
    from trainlab.train import sgd_step_seconds
    model = mlp(20, [8], 3, seed=0)
    before = [p.detach().clone() for p in model.parameters()]
    rng = np.random.default_rng(0)
    t = sgd_step_seconds(model, rng.normal(size=(16, 20)), rng.integers(0, 3, 16), steps=2,
                         repeat=1)
    assert t > 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_on_record_sees_every_record_step_and_can_stop_the_run(digits) -> None:
    x, y, xv, yv = digits
    seen = []
    model = mlp(64, [16], 10, seed=0)
    train(model, (x, y), (xv, yv), steps=25, record_every=10, stats=False,
          on_record=lambda h: seen.append((len(h.curves), h.curves[-1]["step"])))
    assert seen == [(1, 0), (2, 10), (3, 20), (4, 24)]

    class Stop(Exception):
        pass

    def stop(h: History) -> None:
        if len(h.curves) == 2:
            raise Stop

    hist_model = mlp(64, [16], 10, seed=0)
    with pytest.raises(Stop):
        train(hist_model, (x, y), None, steps=25, record_every=10, stats=False, on_record=stop)


def test_layer_values_match_autograd_and_leave_training_state_alone() -> None:
    from trainlab.train import layer_values

    model = tiny_net(nn.Tanh(), dtype=torch.float64)
    for p in model.parameters():
        p.grad = torch.full_like(p, 7.0)
    state = torch.random.get_rng_state()
    values = layer_values(model, X_TINY, Y_TINY)
    assert torch.equal(state, torch.random.get_rng_state())
    assert all(bool((p.grad == 7.0).all()) for p in model.parameters())
    xt = torch.tensor(X_TINY)
    z1 = model.fc1(xt)
    a1 = torch.tanh(z1)
    a1.retain_grad()
    loss = nn.functional.cross_entropy(model.out(a1), torch.tensor(Y_TINY))
    loss.backward()
    assert len(values) == 1 and values[0]["activation"] == "tanh"
    np.testing.assert_allclose(values[0]["act"], a1.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(values[0]["act_grad"], a1.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("metric", ["val_acc", "val_loss"])
def test_restore_best_leaves_the_best_validation_checkpoint(digits, metric) -> None:
    """The weights left in the model are those of the best record step: re-evaluating them
    gives the recorded best value, and a run without restore_best (same seed, same steps)
    passes through that checkpoint and ends elsewhere."""
    x, y, xv, yv = digits
    rng = np.random.default_rng(0)
    noisy = np.where(rng.random(200) < 0.5, rng.integers(0, 10, 200), y[:200])  # over-fits
    common = dict(steps=300, batch_size=20, lr=3e-3, optimizer="adam", record_every=20,
                  stats=False, seed=0, progress=False)
    model = mlp(64, [64, 64], 10, seed=0)
    hist = train(model, (x[:200], noisy), (xv, yv), restore_best=metric, **common)
    steps, values = hist.series(metric)
    best = int(np.argmax(values) if metric == "val_acc" else np.argmin(values))
    assert hist.best_step == steps[best] and hist.best_value == values[best]
    assert hist.best_step < steps[-1]                   # the run did get worse again
    assert values[best] != values[-1]
    vl, va = evaluate(model, xv, yv)
    assert (va if metric == "val_acc" else vl) == pytest.approx(hist.best_value, abs=1e-6)
    assert hist.status == "completed 300 steps" and hist.to_dict()["best_step"] == best * 20
    plain = mlp(64, [64, 64], 10, seed=0)
    ref = train(plain, (x[:200], noisy), (xv, yv), **common)
    np.testing.assert_array_equal(ref.series(metric)[1], values)   # same run, same curve
    assert ref.best_step is None and math.isnan(ref.best_value)
    assert evaluate(plain, xv, yv)[metric == "val_acc"] == pytest.approx(values[-1], abs=1e-6)


def test_patience_stops_the_run_and_restores_the_best(digits) -> None:
    x, y, xv, yv = digits
    rng = np.random.default_rng(0)
    noisy = np.where(rng.random(200) < 0.5, rng.integers(0, 10, 200), y[:200])
    model = mlp(64, [64, 64], 10, seed=0)
    hist = train(model, (x[:200], noisy), (xv, yv), steps=2000, batch_size=20, lr=3e-3,
                 optimizer="adam", record_every=20, stats=False, seed=0, progress=False,
                 restore_best="val_loss", patience=3)
    steps, loss = hist.series("val_loss")
    assert hist.status.startswith(f"stopped early at step {steps[-1]}: no better val_loss")
    assert steps[-1] == hist.best_step + 3 * 20 and hist.steps_run == steps[-1] + 1
    assert np.all(loss[-3:] >= hist.best_value) and loss.min() == hist.best_value
    assert evaluate(model, xv, yv)[0] == pytest.approx(hist.best_value, abs=1e-6)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"restore_best": "train_acc"}, "unknown restore_best 'train_acc'; valid: val_acc, val_loss"),
    ({"restore_best": "val_acc", "val": False}, "restore_best needs val_data"),
    ({"patience": 2}, "patience needs restore_best"),
    ({"restore_best": "val_acc", "patience": 0}, "patience must be an int >= 1"),
])
def test_restore_best_rejects_bad_arguments(kwargs: dict, match: str) -> None:
    x = np.zeros((10, 4), dtype=np.float32)
    y = np.zeros(10, dtype=np.int64)
    val = (x, y) if kwargs.pop("val", True) else None
    with pytest.raises(ValueError, match=match):
        train(mlp(4, [3], 2), (x, y), val, steps=2, batch_size=4, progress=False, **kwargs)
