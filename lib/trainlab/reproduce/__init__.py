"""Paper-scale versions of the batch-norm experiments of lessons 04 and 05.

    python -m trainlab.reproduce                 # every experiment (``make reproduce``)
    python -m trainlab.reproduce landscape       # one of them
    python -m trainlab.reproduce --quick         # a tiny smoke run (seconds)

Each experiment writes ``results/<name>.json`` (the numbers, the settings and the data used)
and ``results/<name>.png`` (the figure). The notebooks call the same functions with smaller
settings, so the lesson and the script agree on what is measured.

- ``mnist_sigmoid``: Ioffe & Szegedy (2015), figure 1: 3 fully connected layers of 100
  sigmoid units, small random Gaussian weights N(0, 0.01^2), batches of 60, 50,000 SGD steps,
  with and without batch norm; held-out accuracy and the 15/50/85th percentiles of one
  sigmoid's input over training. Uses the full MNIST training set when it is on disk and
  MNIST-10k (8,000 / 2,000) otherwise; the JSON says which.
- ``mnist_sigmoid_n01``: the same with N(0, 1) weights, which start the sigmoids saturated
  (a second case: batch norm rescuing a bad initialisation).
- ``he_sweep``: the settings sweep behind lesson 03's laptop version of He et al. (2015):
  30 ReLU layers, Xavier (1/fan-in) vs Kaiming (2/fan-in) weights, at several widths, learning
  rates and with or without momentum; final training loss of each run.
- ``noisy_bn``: Santurkar et al. (2018), figure 2: standard, batch-normalised and "noisy BN"
  networks; accuracy over training and the shift of each layer's input distribution between
  checkpoints (internal covariate shift, measured on a fixed probe batch).
- ``landscape``: Santurkar et al. (2018), figure 4: loss variation and gradient
  predictiveness along the gradient (eta in [0.05, 0.4]) and the effective beta-smoothness,
  with and without batch norm.

The experiments live in one module per lesson: :mod:`trainlab.reproduce.initialisation`
(lesson 03), :mod:`trainlab.reproduce.batchnorm` (lesson 04) and
:mod:`trainlab.reproduce.why_batchnorm_works` (lesson 05); :mod:`trainlab.reproduce.common`
holds the data loader they share and :mod:`trainlab.reproduce.cli` the command line.
:mod:`trainlab.reproduce.beyond_batchnorm` holds lesson 07's batch-size experiment (batch norm
over B images against group norm), which its explorer runs; it has no command-line entry.
"""

from __future__ import annotations

from trainlab.reproduce.batchnorm import (
    FINAL_LAYER_VARIANTS,
    MnistSigmoidConfig,
    final_layer_ablation,
    initial_loss,
    plot_mnist_sigmoid,
    run_mnist_sigmoid,
    weight_scale_sweep,
)
from trainlab.reproduce.common import load_data
from trainlab.reproduce.initialisation import HeSweepConfig, plot_he_sweep, run_he_sweep
from trainlab.reproduce.why_batchnorm_works import (
    LandscapeConfig,
    NoisyBNConfig,
    plot_landscape,
    plot_noisy_bn,
    run_landscape,
    run_noisy_bn,
    seed_mean_sd,
)

__all__ = [
    "EXPERIMENTS",
    "FINAL_LAYER_VARIANTS",
    "HeSweepConfig",
    "LandscapeConfig",
    "MnistSigmoidConfig",
    "NoisyBNConfig",
    "final_layer_ablation",
    "initial_loss",
    "load_data",
    "plot_he_sweep",
    "main",
    "plot_landscape",
    "plot_mnist_sigmoid",
    "plot_noisy_bn",
    "run_he_sweep",
    "run_landscape",
    "run_mnist_sigmoid",
    "run_noisy_bn",
    "seed_mean_sd",
    "weight_scale_sweep",
]

from trainlab.reproduce.cli import EXPERIMENTS, main  # noqa: E402  (needs the modules above)
