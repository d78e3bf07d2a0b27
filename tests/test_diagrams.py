"""Tests for trainlab.diagrams: the masks of shared statistics and the cube figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.patches import Polygon  # noqa: E402

from trainlab import diagrams  # noqa: E402
from trainlab.style import OKABE_ITO  # noqa: E402


def test_masks_match_the_statistics_torch_shares():
    """Entries share a mean under a method exactly when the mask says so: check it by
    perturbing one (example, channel) column and seeing whose normalised output changes."""
    import torch

    n, c, g = 4, 6, 3
    layers = {
        "batch": torch.nn.BatchNorm2d(c).double(),
        "layer": torch.nn.LayerNorm([c, 3, 3]).double(),
        "instance": torch.nn.InstanceNorm2d(c).double(),
        "group": torch.nn.GroupNorm(g, c).double(),
    }
    x = torch.randn(n, c, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for method, layer in layers.items():
        for ex, ch in ((0, 0), (2, 3), (3, 5)):
            bumped = x.clone()
            bumped[ex, ch] += torch.linspace(0.5, 2.0, 9, dtype=torch.float64).reshape(3, 3)
            with torch.no_grad():
                changed = (layer(bumped) - layer(x)).abs().amax(dim=(2, 3)) > 1e-9
            changed[ex, ch] = True
            mask = diagrams.shared_statistics_mask(method, n, c, g, example=ex, channel=ch)
            np.testing.assert_array_equal(mask, changed.numpy(), err_msg=method)


def test_mask_sizes():
    sizes = {"batch": 5, "layer": 8, "instance": 1, "group": 2}
    for method, size in sizes.items():
        mask = diagrams.shared_statistics_mask(method, n=5, c=8, groups=4, example=1, channel=5)
        assert mask.shape == (5, 8) and mask.sum() == size


@pytest.mark.parametrize("kwargs, match", [
    ({"method": "batchnorm"}, "method must be one of"),
    ({"method": "group", "c": 6, "groups": 4}, "groups must divide"),
    ({"method": "layer", "n": 0}, "n must be an int >= 1"),
    ({"method": "layer", "example": 6}, r"example must be in \[0, 5\]"),
    ({"method": "batch", "channel": -1}, r"channel must be in \[0, 5\]"),
])
def test_mask_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        diagrams.shared_statistics_mask(**kwargs)


def test_cube_figure_has_one_labelled_panel_per_method():
    fig = diagrams.norm_axes_cube(groups=3)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["Batch norm", "Layer norm", "Instance norm", "Group norm (G = 3)"]
    shade = to_rgba(OKABE_ITO["blue"])
    for ax, method in zip(fig.axes, diagrams.METHODS, strict=True):
        polys = [p for p in ax.patches if isinstance(p, Polygon)]
        assert len(polys) == 3 * 6 * 6
        shaded = sum(p.get_facecolor()[:3] == shade[:3] for p in polys)
        mask = diagrams.shared_statistics_mask(method, 6, 6, 3, example=5)
        assert shaded == 3 * mask.sum()
        texts = {t.get_text() for t in ax.texts}
        assert {"N (batch)", "H, W", "C"} <= texts
    plt.close(fig)


def test_cube_draws_on_given_axes_and_rejects_bad_input():
    fig, axes = plt.subplots(1, 2)
    out = diagrams.norm_axes_cube(["layer", "group"], axes=axes, n=3, c=4, groups=2)
    assert out is fig and axes[1].get_title() == "Group norm (G = 2)"
    with pytest.raises(ValueError, match="at least 2 matplotlib Axes"):
        diagrams.norm_axes_cube(["layer", "group"], axes=axes[:1])
    with pytest.raises(ValueError, match="methods must name"):
        diagrams.norm_axes_cube([])
    with pytest.raises(ValueError, match="height must be"):
        diagrams.norm_axes_cube(height=0)
    plt.close(fig)
