"""Smoke tests for ``python -m trainlab.reproduce``: tiny runs of every experiment."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from trainlab import reproduce
from trainlab.reproduce import cli

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def tiny_data():
    """Synthetic MNIST-shaped data (the test needs no data files)."""
    rng = np.random.default_rng(0)
    centers = rng.uniform(0, 1, size=(10, 784)).astype(np.float32)
    y = np.arange(300) % 10
    x = np.clip(centers[y] + rng.normal(0, 0.2, size=(300, 784)), 0, 1).astype(np.float32)
    return (x[:240], y[:240], x[240:], y[240:]), "synthetic"


def test_mnist_sigmoid_tiny(tiny_data):
    cfg = reproduce.MnistSigmoidConfig(steps=30, record_every=10)
    res = reproduce.run_mnist_sigmoid(cfg, data=tiny_data, show_progress=False)
    assert set(res["runs"]) == {"no BN", "BN"}
    for run in res["runs"].values():
        assert run["step"] == [0, 1, 11, 21, 30]
        assert len(run["p15"]) == len(run["p50"]) == len(run["p85"]) == len(run["val_acc"]) == 5
        assert all(a <= b <= c for a, b, c in zip(run["p15"], run["p50"], run["p85"],
                                                    strict=True))
        assert 0.0 <= run["final_val_acc"] <= 1.0
    # the paper's small init: without BN the sigmoid's input starts in a narrow band; with BN,
    # measured in training mode (every BN layer uses the batch's statistics), it has a unit
    # normal's 15-85 spread (2 x 1.036) from step 0 - not the near-zero band of an eval-mode
    # pass through untrained running statistics
    bn, plain = res["runs"]["BN"], res["runs"]["no BN"]
    assert plain["p85"][0] - plain["p15"][0] < 0.05
    assert abs(bn["p85"][0] - bn["p15"][0] - 2.07) < 0.4
    assert bn["p85"][-1] - bn["p15"][-1] > 0.5
    json.dumps(res)
    fig = reproduce.plot_mnist_sigmoid(res)
    assert len(fig.axes) == 3 and all(ax.get_xlabel() for ax in fig.axes)


def test_mnist_sigmoid_step0_uses_batch_statistics(tiny_data):
    """With N(0, 1) weights the BN network's step-0 input is the held-out batch normalised by
    its own statistics (15-85 spread of a unit normal, 2 x 1.036), not the identity that
    untrained running averages would give (the plain network's saturated band, spread > 2)."""
    cfg = reproduce.MnistSigmoidConfig(steps=2, record_every=1, init_scale=1.0)
    res = reproduce.run_mnist_sigmoid(cfg, data=tiny_data, show_progress=False)
    bn, plain = res["runs"]["BN"], res["runs"]["no BN"]
    assert abs(bn["p50"][0]) < 0.3 and abs(bn["p85"][0] - bn["p15"][0] - 2.07) < 0.3
    assert plain["p50"][0] > 3


def test_noisy_bn_tiny(tiny_data):
    cfg = reproduce.NoisyBNConfig(steps=20, checkpoint_every=10, depth=2, width=16,
                                  probe_size=32)
    res = reproduce.run_noisy_bn(cfg, data=tiny_data, show_progress=False)
    assert list(res["runs"]) == ["standard", "BN", "noisy BN"]
    for run in res["runs"].values():
        assert run["step"] == [10, 20]
        assert np.shape(run["shift_rel"]) == (2, 2)
        assert np.shape(run["grad_ics_l2"]) == (2, 3)
    runs = res["runs"]
    assert np.mean(runs["noisy BN"]["shift_rel"]) > np.mean(runs["BN"]["shift_rel"])
    json.dumps(res)
    reproduce.plot_noisy_bn(res)
    with pytest.raises(ValueError, match="layer"):
        reproduce.plot_noisy_bn(res, layer=5)


def test_landscape_tiny(tiny_data):
    cfg = reproduce.LandscapeConfig(steps=6, probe_every=3, depth=2, width=16,
                                    etas=(0.1, 0.2))
    res = reproduce.run_landscape(cfg, data=tiny_data, show_progress=False)
    for run in res["runs"].values():
        assert run["steps"] == [0, 3]
        assert len(run["train_loss"]) == 6
        assert all(lo <= hi for lo, hi in zip(run["loss_min"], run["loss_max"], strict=True))
    json.dumps(res)
    fig = reproduce.plot_landscape(res)
    assert [ax.get_title() for ax in fig.axes][0].startswith("(a)")


def test_cli_quick_writes_json_and_png(tmp_path, monkeypatch, tiny_data):
    monkeypatch.setattr(reproduce.common, "load_data", lambda subset="auto": tiny_data)
    monkeypatch.setenv("TRAINLAB_NO_PROGRESS", "1")
    assert reproduce.main(["landscape", "--quick", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "landscape.json").read_text())
    assert res["quick"] is True and res["data"] == "synthetic"
    assert (tmp_path / "landscape.png").stat().st_size > 1000


def test_cli_rejects_unknown_experiment(capsys):
    with pytest.raises(SystemExit):
        reproduce.main(["nope", "--quick"])
    assert "unknown experiment" in capsys.readouterr().err


def test_load_data_bad_subset():
    with pytest.raises(ValueError, match="subset"):
        reproduce.load_data("60k")


def test_final_layer_ablation_tiny(tiny_data):
    (xtr, ytr, xva, yva), _ = tiny_data
    res = reproduce.final_layer_ablation((xtr, ytr, xva, yva), seeds=(0,), steps=30,
                                         hidden=(16,), penalty=1e-1)
    assert list(res) == list(reproduce.FINAL_LAYER_VARIANTS)
    for r in res.values():
        assert len(r["val_acc"]) == 1 and 0.0 <= r["val_acc"][0] <= 1.0
    # the penalty shrinks the features the classifier reads
    assert res["no BN + feature penalty"]["feature_rms"][0] < res["no BN"]["feature_rms"][0]
    with pytest.raises(ValueError, match="penalty"):
        reproduce.final_layer_ablation((xtr, ytr, xva, yva), steps=1, penalty=-1.0)


def test_initial_loss_and_weight_scale_sweep(tiny_data):
    (xtr, ytr, xva, yva), _ = tiny_data
    from trainlab import models
    small = models.mlp(784, [16] * 2, 10, init="normal", init_scale=1e-3, seed=0)
    assert abs(reproduce.initial_loss(small, xva, yva) - np.log(10)) < 1e-2
    bn = models.mlp(784, [16] * 2, 10, norm="bn", seed=0)
    before = bn.norm1.running_mean.clone()
    reproduce.initial_loss(bn, xva, yva)
    assert np.array_equal(bn.norm1.running_mean.numpy(), before.numpy())
    sweep = reproduce.weight_scale_sweep((xtr, ytr, xva, yva), [1e-3, 1.0], hidden=(16, 16),
                                         steps=10)
    assert set(sweep) == {"none", "bn"}
    assert sweep["none"]["initial_loss"][1] > 10 * sweep["none"]["initial_loss"][0]


def test_he_sweep_runs_every_setting_and_flags_divergence(tiny_data):
    cfg = reproduce.HeSweepConfig(depth=3, widths=(8,), steps=4, batch_size=8,
                                  optimizers=(("sgd", 0.01), ("momentum", 1e6)))
    res = reproduce.run_he_sweep(cfg, data=tiny_data, show_progress=False)
    assert len(res["runs"]) == 4
    by_setting = {(r["scheme"], r["optimizer"]): r for r in res["runs"].values()}
    for scheme in ("xavier_fan_in", "kaiming_normal"):
        ok, blown = by_setting[scheme, "sgd"], by_setting[scheme, "momentum"]
        assert ok["status"] == "ok" and np.isfinite(ok["final_train_loss"])
        assert blown["status"] == "diverged" and blown["final_train_loss"] is None
    json.dumps(res)
    fig = reproduce.plot_he_sweep(res)
    assert [ax.get_title() for ax in fig.axes] == ["xavier_fan_in", "kaiming_normal"]
    assert "diverged" in cli._summary("he_sweep", res)


def test_noisy_bn_and_landscape_over_seeds(tiny_data):
    cfg = reproduce.NoisyBNConfig(steps=10, checkpoint_every=5, depth=2, width=8, probe_size=16)
    runs = [reproduce.run_noisy_bn(dataclasses.replace(cfg, seed=s), data=tiny_data,
                                   show_progress=False) for s in (0, 1)]
    mean, sd = reproduce.seed_mean_sd(runs, "BN", "shift_rel", lambda a: a.mean(axis=0))
    per_seed = [np.mean(r["runs"]["BN"]["shift_rel"], axis=0) for r in runs]
    np.testing.assert_allclose(mean, np.mean(per_seed, axis=0))
    np.testing.assert_allclose(sd, np.std(per_seed, axis=0))
    assert np.all(sd > 0)
    assert np.all(reproduce.seed_mean_sd(runs[0], "BN", "val_acc")[1] == 0)
    fig = reproduce.plot_noisy_bn(runs, layer=1)
    assert "2 seeds" in fig.axes[0].get_title()
    assert len(fig.axes[0].containers) == 3           # one errorbar per network
    assert f"lr {cfg.lr:g}" in fig.axes[0].get_title() and fig.axes[0].get_yscale() == "linear"
    assert fig.axes[0].get_legend() is not None and fig.axes[1].get_legend() is None
    fig = reproduce.plot_noisy_bn(runs, layer=1, metric="train_loss")
    assert "training loss" in fig.axes[0].get_ylabel() and fig.axes[0].get_yscale() == "log"
    drawn = fig.axes[0].containers[0].lines[0].get_ydata()   # the standard network's curve
    np.testing.assert_allclose(drawn, reproduce.seed_mean_sd(runs, "standard", "train_loss")[0])
    with pytest.raises(ValueError, match="metric"):
        reproduce.plot_noisy_bn(runs, metric="val_loss")
    with pytest.raises(ValueError, match="non-empty"):
        reproduce.plot_noisy_bn([])
    land_cfg = reproduce.LandscapeConfig(steps=6, probe_every=3, depth=2, width=8,
                                         etas=(0.1, 0.2))
    lands = [reproduce.run_landscape(dataclasses.replace(land_cfg, seed=s), data=tiny_data,
                                     show_progress=False) for s in (0, 1)]
    fig = reproduce.plot_landscape(lands)
    assert "2 seeds" in fig.get_suptitle()
    assert all(len(ax.containers) == 2 for ax in fig.axes)   # errorbars: no BN and BN
    ranges = [np.subtract(r["runs"]["BN"]["loss_max"], r["runs"]["BN"]["loss_min"])
              for r in lands]
    drawn = fig.axes[0].containers[1].lines[0].get_ydata()
    np.testing.assert_allclose(drawn, np.mean(ranges, axis=0))
