"""The lessons' explorers: one module per lesson (or family), one shared machinery.

* :mod:`trainlab.explorers.core` -- the :class:`~trainlab.explorers.core.Explorer` widget
  (controls, output, live runs, status line) and the figure/PNG helpers;
* :mod:`trainlab.explorers.spec` -- an explorer as data: its controls as finite value lists,
  ``compute(state)``, ``draw(result)``, the registry of the lessons' explorers, the
  precomputed grids (``make explorers``) and the stale-grid check;
* :mod:`trainlab.explorers.export` -- ``python -m trainlab.explorers export OUTDIR``: a
  kernel-free viewer per explorer.

One module per explorer, named like its lesson: :mod:`.activations` (01 dead ReLU),
:mod:`.preprocessing` (02), :mod:`.initialisation` (00/03 init and init-training),
:mod:`.dashboard` (03/04), :mod:`.batchnorm` (04 learning rate), :mod:`.why_batchnorm_works`
(05 landscape), :mod:`.dropout` (06 keep_prob), :mod:`.beyond_batchnorm` (07 batch groups);
:mod:`._training` holds what the training explorers share.
"""

from __future__ import annotations

from trainlab.dropout import keep_prob_data, keep_prob_run
from trainlab.explorers.activations import dead_relu_explorer
from trainlab.explorers.batchnorm import lr_explorer
from trainlab.explorers.beyond_batchnorm import batch_groups_explorer
from trainlab.explorers.core import DEFAULT_SCHEMES, Cancelled, render_png
from trainlab.explorers.dashboard import training_dashboard
from trainlab.explorers.dropout import KEEP_PROB_DEFAULTS, keep_prob_explorer
from trainlab.explorers.initialisation import init_explorer, init_training_explorer
from trainlab.explorers.live import Explorer
from trainlab.explorers.preprocessing import preprocessing_explorer
from trainlab.explorers.why_batchnorm_works import landscape_explorer
from trainlab.init import WeightCache, init_forward_stats

__all__ = [
    "DEFAULT_SCHEMES",
    "Cancelled",
    "Explorer",
    "KEEP_PROB_DEFAULTS",
    "WeightCache",
    "batch_groups_explorer",
    "dead_relu_explorer",
    "init_explorer",
    "init_forward_stats",
    "init_training_explorer",
    "keep_prob_data",
    "keep_prob_explorer",
    "keep_prob_run",
    "landscape_explorer",
    "lr_explorer",
    "preprocessing_explorer",
    "render_png",
    "training_dashboard",
]
