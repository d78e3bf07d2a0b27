"""Tests for trainlab.landscape: gradient-direction probes, smoothness and covariate shift."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from trainlab import landscape as L

torch.set_default_dtype(torch.float32)


def _linear_regression(seed: int = 0, n: int = 20, d: int = 4):
    """A bias-free linear model with MSE loss: L(w) = mean((X w - y)^2), a quadratic in w with
    Hessian A = 2 X^T X / n."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    y = torch.randn(n, 1, generator=gen, dtype=torch.float64)
    model = nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, d, generator=gen, dtype=torch.float64))
    return model, x, y


def _bn_mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_probe_matches_numpy_quadratic():
    model, x, y = _linear_regression()
    probe = L.probe_gradient_direction(model, nn.functional.mse_loss, x, y)
    xn, yn = x.numpy(), y.numpy()[:, 0]
    n = len(xn)

    def f(w: np.ndarray) -> float:
        return float(np.mean((xn @ w - yn) ** 2))

    def grad(w: np.ndarray) -> np.ndarray:
        return 2 * xn.T @ (xn @ w - yn) / n

    w0 = model.weight.detach().numpy()[0].copy()
    losses, changes = L.loss_along_gradient(f, grad, w0, probe.etas)
    np.testing.assert_allclose(probe.losses, losses, rtol=1e-10)
    np.testing.assert_allclose(probe.grad_changes, changes, rtol=1e-8)
    assert probe.loss == pytest.approx(f(w0))
    assert probe.grad_norm == pytest.approx(np.linalg.norm(grad(w0)))
    # for a quadratic the gradient change is eta * ||A g||, so beta = ||A g|| / ||g||
    a = 2 * xn.T @ xn / n
    g = grad(w0)
    assert probe.beta_smoothness == pytest.approx(np.linalg.norm(a @ g) / np.linalg.norm(g))
    assert probe.beta_smoothness <= np.linalg.eigvalsh(a).max() + 1e-9


def test_probe_restores_parameters_buffers_and_mode():
    model = _bn_mlp()
    x, y = torch.randn(16, 6), torch.randint(0, 3, (16,))
    before = _state(model)
    model.train()
    probe = L.probe_gradient_direction(model, nn.functional.cross_entropy, x, y, etas=[0.1, 0.2])
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert model.training and probe.losses.shape == (2,)
    assert np.all(np.isfinite(probe.losses))


def test_probe_loss_follows_gradient_descent():
    model = _bn_mlp(1)
    x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    probe = L.probe_gradient_direction(model, nn.functional.cross_entropy, x, y, etas=[1e-3])
    # a tiny step along -g lowers the loss by about eta ||g||^2
    drop = probe.loss - probe.losses[0]
    assert drop == pytest.approx(1e-3 * probe.grad_norm**2, rel=0.05)


@pytest.mark.parametrize("etas", [[], [0.1, -0.2], [0.0], [[0.1]], [float("nan")]])
def test_bad_etas_rejected(etas):
    model, x, y = _linear_regression()
    with pytest.raises(ValueError, match="etas"):
        L.probe_gradient_direction(model, nn.functional.mse_loss, x, y, etas=etas)


def test_probe_rejects_non_scalar_loss_and_parameterless_model():
    model, x, y = _linear_regression()
    with pytest.raises(ValueError, match="scalar"):
        L.probe_gradient_direction(model, lambda a, b: (a - b) ** 2, x, y)
    with pytest.raises(ValueError, match="trainable"):
        L.probe_gradient_direction(nn.ReLU(), nn.functional.mse_loss, x, x)


def test_sgd_with_probes_trace_and_determinism():
    x, y = torch.randn(100, 6), torch.randint(0, 3, (100,))
    traces = []
    for _ in range(2):
        model = _bn_mlp(2)
        traces.append(L.sgd_with_probes(model, x, y, lr=0.1, steps=12, batch_size=20,
                                        probe_every=5, etas=[0.1, 0.4], seed=3))
    t = traces[0]
    assert t.steps == [0, 5, 10]
    assert len(t.train_loss) == 12 and len(t.beta) == 3
    assert all(lo <= hi for lo, hi in zip(t.loss_min, t.loss_max, strict=True))
    assert t.as_dict() == traces[1].as_dict()
    assert t.train_loss[-1] < t.train_loss[0]


def test_sgd_with_probes_matches_torch_sgd():
    x, y = torch.randn(40, 6), torch.randint(0, 3, (40,))
    a, b = _bn_mlp(4), _bn_mlp(4)
    L.sgd_with_probes(a, x, y, lr=0.05, steps=2, batch_size=40, probe_every=1)
    opt = torch.optim.SGD(b.parameters(), lr=0.05)
    for _ in range(2):
        opt.zero_grad()
        nn.functional.cross_entropy(b(x), y).backward()
        opt.step()
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb)


def test_sgd_with_probes_stops_on_divergence():
    model = nn.Sequential(nn.Linear(3, 1))
    x = torch.randn(10, 3) * 100
    y = torch.randn(10, 1)
    trace = L.sgd_with_probes(model, x, y, lr=10.0, steps=50, batch_size=10, probe_every=100,
                              loss_fn=nn.functional.mse_loss)
    assert len(trace.train_loss) < 50 and not np.isfinite(trace.train_loss[-1])


@pytest.mark.parametrize("kwargs, word", [({"lr": 0.0}, "lr"), ({"steps": 0}, "steps"),
                                          ({"batch_size": 500}, "batch_size"),
                                          ({"probe_every": 1.5}, "probe_every")])
def test_sgd_with_probes_bad_arguments(kwargs, word):
    args = {"lr": 0.1, "steps": 2, "batch_size": 4, "probe_every": 1, **kwargs}
    with pytest.raises(ValueError, match=word):
        L.sgd_with_probes(_bn_mlp(), torch.randn(8, 6), torch.zeros(8, dtype=torch.long), **args)


def test_lipschitz_constant_1d():
    assert L.lipschitz_constant_1d(np.sin, 0, np.pi) == pytest.approx(1.0, abs=1e-6)
    assert L.lipschitz_constant_1d(lambda t: t**2, 0, 1) == pytest.approx(2.0, abs=1e-3)
    # beta-smoothness of the sigmoid: max |sigma''| = 1 / (6 sqrt(3))
    def dsig(t: np.ndarray) -> np.ndarray:
        s = 1 / (1 + np.exp(-t))
        return s * (1 - s)

    assert L.lipschitz_constant_1d(dsig, -6, 6) == pytest.approx(1 / (6 * np.sqrt(3)), rel=1e-4)
    with pytest.raises(ValueError, match="lo < hi"):
        L.lipschitz_constant_1d(np.sin, 1, 0)
    with pytest.raises(ValueError, match="n must"):
        L.lipschitz_constant_1d(np.sin, 0, 1, n=1)
    with pytest.raises(ValueError, match="same shape"):
        L.lipschitz_constant_1d(lambda t: 1.0, 0, 1)


def test_loss_along_gradient_shape_error():
    with pytest.raises(ValueError, match="grad"):
        L.loss_along_gradient(lambda v: 0.0, lambda v: np.zeros(3), np.zeros(2))


def test_layer_inputs_fc_and_conv():
    model = _bn_mlp()
    before = _state(model)
    x = torch.randn(10, 6)
    (got,) = L.layer_inputs(model, [model[2]], x)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    copy = _bn_mlp()
    with torch.no_grad():
        expected = copy[1](copy[0](x))
    assert got.shape == (10, 8)
    np.testing.assert_allclose(got, expected.double().numpy(), rtol=1e-5, atol=1e-6)
    conv = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU())
    (c,) = L.layer_inputs(conv, [conv[1]], torch.randn(4, 2, 5, 5))
    assert c.shape == (4 * 5 * 5, 3)


def test_layer_inputs_errors():
    model = _bn_mlp()
    with pytest.raises(ValueError, match="at least one"):
        L.layer_inputs(model, [], torch.randn(4, 6))
    with pytest.raises(ValueError, match="not a sub-module"):
        L.layer_inputs(model, [nn.ReLU()], torch.randn(4, 6))


def test_distribution_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 4))
    assert L.distribution_shift(a, a) == {"mean_shift": 0.0, "std_shift": 0.0, "w1": 0.0,
                                          "w1_rel": 0.0}
    moved = L.distribution_shift(a, a + 2.0)
    assert moved["mean_shift"] == pytest.approx(2.0)
    assert moved["w1"] == pytest.approx(2.0)
    assert moved["w1_rel"] == pytest.approx(np.mean(2.0 / a.std(0)))
    assert L.distribution_shift(10 * a, 10 * a + 20.0)["w1_rel"] == pytest.approx(moved["w1_rel"])
    assert moved["std_shift"] == pytest.approx(0.0, abs=1e-12)
    scaled = L.distribution_shift(a, 3 * a)
    assert scaled["std_shift"] == pytest.approx(2 * np.mean(a.std(0)))
    with pytest.raises(ValueError, match="before and after"):
        L.distribution_shift(a, a[:10])


def test_gradient_ics_first_layer_zero_and_manual_second_layer():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    x, y = torch.randn(30, 5, dtype=torch.float64), torch.randint(0, 2, (30,))
    layers = [list(model[0].parameters()), list(model[2].parameters())]
    before = _state(model)
    res = L.gradient_ics(model, nn.functional.cross_entropy, x, y, layers, lr=0.5)
    assert res[0]["l2"] == 0.0 and res[0]["cosine"] == pytest.approx(1.0)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    # by hand: update layer 1 only, compare the gradients of layer 2
    loss = nn.functional.cross_entropy(model(x), y)
    g1 = torch.autograd.grad(loss, layers[0])
    g2 = torch.autograd.grad(nn.functional.cross_entropy(model(x), y), layers[1])
    moved = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    moved.load_state_dict(model.state_dict())
    with torch.no_grad():
        for p, g in zip(moved[0].parameters(), g1, strict=True):
            p.sub_(0.5 * g)
    g2_new = torch.autograd.grad(nn.functional.cross_entropy(moved(x), y),
                                 list(moved[2].parameters()))
    l2 = torch.sqrt(sum(((a - b) ** 2).sum() for a, b in zip(g2, g2_new, strict=True)))
    assert res[1]["l2"] == pytest.approx(float(l2))
    assert res[1]["l2"] > 0 and -1 <= res[1]["cosine"] <= 1


def test_gradient_ics_errors():
    model = _bn_mlp()
    x, y = torch.randn(4, 6), torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match="lr"):
        L.gradient_ics(model, nn.functional.cross_entropy, x, y, [list(model.parameters())], 0)
    with pytest.raises(ValueError, match="at least one"):
        L.gradient_ics(model, nn.functional.cross_entropy, x, y, [], 0.1)


# --------------------------------------------------------------------------- UnitInputRecorder
def _sigmoid_net(norm: str, keep_prob: float = 1.0) -> nn.Sequential:
    from trainlab import models

    return models.mlp(784, [50] * 3, 10, activation="sigmoid", init="normal", init_scale=0.01,
                      norm=norm, keep_prob=keep_prob, seed=0).double()


def test_unit_input_recorder_measures_bn_in_training_mode_at_step0():
    """Ioffe & Szegedy's small init, before any training: the third BN layer must see the probe
    batch normalised by every BN layer's batch statistics. Measured through an eval-mode pass
    (untrained running statistics in norm1/norm2) its input is almost constant and its output's
    15-85 spread about 0 - the artefact this recorder once stored; in training mode the spread
    is that of a unit normal, 2 x 1.036."""
    x = torch.rand(500, 784, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for norm in ("bn", "none"):
        net = _sigmoid_net(norm)
        with L.UnitInputRecorder(net.act3, 0, batch_size=500, model=net) as rec:
            with torch.no_grad():
                net.train()(x)                  # a training step's forward: skipped
                net.eval()
                buffers = {k: v.clone() for k, v in net.state_dict().items()}
                rng = torch.get_rng_state()
                net(x[:2])                      # a shape probe: skipped
                net(x)                          # the evaluation: recorded
        assert len(rec.values) == 1
        p15, p50, p85 = rec.values[0]
        (z,) = L.layer_inputs(net.train(), [net.act3], x)
        net.eval()
        np.testing.assert_allclose(rec.values[0], np.percentile(z[:, 0], (15, 50, 85)))
        if norm == "bn":
            assert abs(p85 - p15 - 2.07) < 0.2 and abs(p50) < 0.2
            (z_eval,) = L.layer_inputs(net, [net.act3], x)       # the old, eval-mode reading
            assert np.ptp(np.percentile(z_eval[:, 0], (15, 85))) < 0.01
        else:
            assert p85 - p15 < 0.05             # tiny weights: a narrow band without BN
        for k, v in net.state_dict().items():   # running stats and counters untouched
            assert torch.equal(v, buffers[k]), k
        assert torch.equal(torch.get_rng_state(), rng)
    assert not net.training


def test_unit_input_recorder_leaves_training_unchanged():
    """A recorded run (with dropout, so the probe would draw masks) trains bit for bit like an
    unrecorded one."""
    from trainlab.train import train

    rng = np.random.default_rng(1)
    X, y = rng.uniform(0, 1, (120, 784)), np.arange(120) % 10
    finals = []
    for record in (False, True):
        net = _sigmoid_net("bn", keep_prob=0.8)
        rec = L.UnitInputRecorder(net.act3, 0, batch_size=40, model=net)
        if record:
            rec.__enter__()
        hist = train(net, (X[:80], y[:80]), (X[80:], y[80:]), steps=6, batch_size=20, lr=0.5,
                     record_every=3, stats=False, seed=0, eval_batch=40, progress=False)
        rec.__exit__()
        finals.append({k: v.clone() for k, v in net.state_dict().items()})
        assert len(rec.values) == (len(hist.series("val_acc")[0]) if record else 0)
    for k in finals[0]:
        assert torch.equal(finals[0][k], finals[1][k]), k


def test_unit_input_recorder_errors():
    net, other = _sigmoid_net("bn"), _sigmoid_net("none")
    with pytest.raises(ValueError, match="sub-module"):
        L.UnitInputRecorder(other.act3, model=net)
    with pytest.raises(ValueError, match="unit"):
        L.UnitInputRecorder(net.act3, -1, model=net)
    with pytest.raises(ValueError, match="batch_size"):
        L.UnitInputRecorder(net.act3, batch_size=0, model=net)
    with pytest.raises(TypeError):
        L.UnitInputRecorder("act3", model=net)
    with L.UnitInputRecorder(net.act3, 60, model=net), pytest.raises(ValueError, match="< the"):
        with torch.no_grad():
            net.eval()(torch.zeros(4, 784, dtype=torch.float64))
