"""Lesson 02: offset and scale of the inputs -> the loss surface of a line fit."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from trainlab import health
from trainlab.explorers._training import _Figures
from trainlab.explorers.core import (
    _decade_label,
    _explorer_figure,
    _factor_text,
    _legend_off_data,
    _LogTicks,
    fmt,
)
from trainlab.explorers.live import Explorer, serves_grid
from trainlab.explorers.spec import log_slider, slider
from trainlab.style import (
    OKABE_ITO,
    color,
    text_size,
)


# --------------------------------------------------------------------------------------------
# lesson 02: offset and scale of the inputs -> the loss surface of a line fit
# --------------------------------------------------------------------------------------------
@serves_grid
def preprocessing_explorer(*, offset: float = 5.0, scale: float = 1.0,
                           step_fraction: float = 0.5, steps: int = 60, n: int = 50,
                           seed: int = 0) -> Explorer:
    """How the offset and the scale of an input shape the loss surface that gradient descent
    has to cross (LeCun, Bottou, Orr & Müller 1998, "Efficient BackProp", section 4.3).

    The line fit of lesson 02: ``y_hat = w x + b`` with ``L(w, b) = 1/(2N) sum (w x + b - y)^2``
    on ``n`` points whose inputs are presented as ``x = offset + scale * u``, ``u ~ U(-1, 1)``
    (:func:`trainlab.preprocess.line_fit_data`; the targets do not change). The Hessian
    ``H = [[mean(x^2), mean(x)], [mean(x), 1]]`` has condition number
    ``kappa = lambda_max / lambda_min``; gradient descent with ``eta = step_fraction * 2 /
    lambda_max`` multiplies the error along each eigenvector by ``1 - eta lambda`` per step
    (:func:`trainlab.preprocess.line_fit_descent`).

    Controls (``continuous_update=False``): ``offset`` (FloatSlider -10..10, the centre of the
    inputs), ``scale`` (FloatLogSlider 0.01..100, their half-width), ``step`` (FloatSlider
    0.05..1.1, eta in units of the stability limit 2/lambda_max: above 1 the run diverges) and
    ``steps`` (IntSlider 1..200). The figure: (a) the data with the least-squares line and the
    line gradient descent reached; (b) contours of log10 L over (w, b) with the path (square:
    start (-1.5, 1.5), star: end, plus: the minimum; w and b to the same scale, so the
    contours have their true shape); (c) the excess loss ``L - L*`` against
    the step, log scale, with the same run on centred inputs (``x - mean(x)``, same scale) and
    the dominant (largest |factor|) mode's prediction ``rate^(2t)``. ``last_result``:
    ``condition_number``,
    ``eigenvalues`` (2,), ``lr``, ``rate``, ``final_loss``, ``min_loss``, ``excess``,
    ``diverged``, ``centred_condition_number``, ``centred_excess``, ``path`` (steps + 1, 2),
    ``status`` (:func:`_line_fit_status`).

    Raises ValueError for an opening value outside its slider's range.
    """
    controls = [
        slider("offset", "input offset", offset, -10.0, 10.0, 0.5, readout=".1f"),
        log_slider("scale", "feature scale", scale, -2, 2),
        slider("step", "step η × 2/λ_max", step_fraction, 0.05, 1.1, 0.05, readout=".2f",
               arg="step_fraction"),
        slider("steps", "GD steps", steps, 1, 200),
    ]

    def compute(offset: float, scale: float, step: float, steps: int) -> dict[str, Any]:
        from trainlab.preprocess import line_fit_data, line_fit_descent

        x, y = line_fit_data(float(offset), float(scale), n=n, seed=seed)
        run = line_fit_descent(x, y, step_fraction=float(step), steps=int(steps))
        centred = line_fit_descent(x - x.mean(), y, step_fraction=float(step),
                                   steps=int(steps))
        res = {"x": x, "y": y, "run": run, "centred": centred, "offset": float(offset),
               "scale": float(scale), "step_fraction": float(step), "steps": int(steps),
               "condition_number": run["condition_number"], "eigenvalues": run["eigenvalues"],
               "lr": run["lr"], "rate": run["rate"], "final_loss": float(run["losses"][-1]),
               "min_loss": run["min_loss"], "excess": run["excess"],
               "diverged": run["diverged"], "path": run["path"],
               "centred_condition_number": centred["condition_number"],
               "centred_excess": centred["excess"]}
        res["summary"] = (f"x in [{fmt(x.min())}, {fmt(x.max())}]: condition number "
                          f"{_kappa(run['condition_number'])} (centred "
                          f"{_kappa(centred['condition_number'])}); L - L* after {int(steps)} "
                          f"step{'s' if int(steps) != 1 else ''} "
                          f"{fmt(max(run['excess'], 0.0))} "
                          f"(centred {fmt(max(centred['excess'], 0.0))})")
        res["status"] = _line_fit_status(run)
        return res

    figures = _Figures()
    return Explorer(controls, compute, lambda res: _preprocessing_figure(figures, res),
                    title="Offset and scale of the inputs: the loss surface of a line fit")


def _line_fit_status(run: dict[str, Any]) -> str:
    """Diverged by :mod:`trainlab.health` (a loss not finite or above 10 × the first), else,
    when the step is past the stability limit (``|1 - η λ_max| > 1``), that the run is
    diverging although it has not yet reached that threshold."""
    losses = np.asarray(run["losses"], dtype=np.float64)
    found = health.diverged_problem(losses, list(range(losses.size)))
    if found is None and run["diverged"]:
        found = (f"diverging: |1 - η λ_max| = {fmt(run['rate'])} > 1, the loss grows "
                 f"(not yet > {health.DIVERGED_FACTOR:g} × the first)")
    elif found is not None and run["diverged"]:
        found += f"; |1 - η λ_max| = {fmt(run['rate'])} > 1"
    return health.status(found)


def _weight_box(run: dict[str, Any]) -> tuple[tuple[float, float], tuple[float, float]]:
    """Limits (w, b) holding the minimum and every iterate no worse than the start."""
    path, losses = run["path"], run["losses"]
    keep = path[np.isfinite(losses) & (losses <= losses[0] * (1 + 1e-9))]
    pts = np.vstack([keep, np.array(run["minimum"])[None]])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.15 * (hi - lo) + 0.25
    return (lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1])


def _kappa(value: float) -> str:
    """A condition number: whole from 100 to 1e6 (2124, as lesson 02 prints it), else
    :func:`fmt`."""
    return f"{value:.0f}" if 100 <= value < 1e6 else fmt(float(value))


def _preprocessing_axes() -> tuple[Figure, list[Any]]:
    """Data, contour (with its colour bar) and excess-loss panels."""
    fig = _explorer_figure(5.0 / (9.6 * 1.3), widen=1.3)     # (b)'s legend below it
    grid = fig.add_gridspec(1, 3, width_ratios=(0.9, 1.3, 1.0), wspace=0.62, left=0.065,
                            right=0.985, top=0.824, bottom=0.22)
    ax_d, ax_c, ax_l = (fig.add_subplot(grid[0, i]) for i in range(3))
    box = ax_c.get_position()
    ax_c.set_position([box.x0, box.y0, 0.85 * box.width, box.height])
    cax = fig.add_axes((box.x0 + 0.9 * box.width, box.y0, 0.05 * box.width, box.height))
    return fig, [ax_d, ax_c, cax, ax_l]


def _equal_aspect_box(wlim: tuple[float, float], blim: tuple[float, float], ax: Any
                      ) -> tuple[tuple[float, float], tuple[float, float]]:
    """``wlim`` and ``blim`` with the shorter range widened about its centre so that one unit
    of w and one of b have the same length on ``ax``: the contours then show the loss
    surface's true shape (an ill-conditioned bowl as a long, thin valley)."""
    box = ax.get_position()
    width, height = ax.figure.get_size_inches() * (box.width, box.height)
    dw, db = wlim[1] - wlim[0], blim[1] - blim[0]
    if db / dw < height / width:
        half = 0.5 * dw * height / width
        mid = 0.5 * (blim[0] + blim[1])
        return wlim, (mid - half, mid + half)
    half = 0.5 * db * width / height
    mid = 0.5 * (wlim[0] + wlim[1])
    return (mid - half, mid + half), blim


def _valley_floor(ax: Any, run: dict[str, Any], wlim: tuple[float, float],
                  blim: tuple[float, float]) -> None:
    """A dotted white line through the minimum along the Hessian's eigenvector of the smallest
    eigenvalue, the direction gradient descent crawls along."""
    direction = run["eigenvectors"][:, -1]
    reach = np.hypot(wlim[1] - wlim[0], blim[1] - blim[0])
    t = np.linspace(-reach, reach, 200)[:, None]
    line = np.asarray(run["minimum"], dtype=np.float64) + t * direction
    ax.plot(line[:, 0], line[:, 1], ":", color="white", lw=1.5, alpha=0.8,
            label="_valley floor")
    ax.set_xlim(*wlim)
    ax.set_ylim(*blim)


def _preprocessing_figure(figures: _Figures, res: dict[str, Any]) -> Figure:
    from trainlab.plots import loss_surface
    from trainlab.preprocess import line_fit_loss

    run, centred, x, y = res["run"], res["centred"], res["x"], res["y"]
    fig, (ax_d, ax_c, cax, ax_l) = figures.get(("preprocessing",), _preprocessing_axes)
    cax.clear()
    cax.set_axes_locator(None)
    ax_d.axvline(0.0, color="0.5", lw=0.8)
    ax_d.plot(x, y, "o", ms=4, color=color(0), label="data")
    xs = np.linspace(min(0.0, x.min()), max(0.0, x.max()), 2)
    ax_d.plot(xs, run["minimum"][0] * xs + run["minimum"][1], "-", color="black", lw=1.2,
              label="least squares")
    if not run["diverged"]:
        w_t, b_t = run["path"][-1]
        ax_d.plot(xs, w_t * xs + b_t, "--", color=OKABE_ITO["vermillion"],
                  label=f"after {res['steps']} GD steps")
    span = float(y.max() - y.min())     # headroom above the data for the 3-line legend
    ax_d.set_ylim(float(y.min()) - 1.0, float(y.max()) + 0.75 * span + 1.0)
    ax_d.xaxis.set_major_locator(MaxNLocator(nbins=4))
    ax_d.set_xlabel(f"input x = {fmt(res['offset'])} + {fmt(res['scale'])} u",
                    fontsize=text_size("label"))
    ax_d.set_ylabel("target y", fontsize=text_size("label"))
    ax_d.set_title("(a) data and fitted lines", fontsize=text_size("title"))
    _legend_off_data(ax_d, fontsize=text_size())     # in the headroom, off points and lines
    wlim, blim = _equal_aspect_box(*_weight_box(run), ax_c)
    losses, path = run["losses"], run["path"]
    out = np.flatnonzero(~(losses <= 100 * losses[0]))
    shown = path[: out[0] + 1] if out.size else path
    loss_surface(lambda w, b: line_fit_loss(w, b, x, y), wlim, blim, resolution=90,
                 levels=20, log=True, ax=ax_c, path=shown, cax=cax,
                 labels=("slope w", "intercept b"), minimum=run["minimum"])
    if out.size:
        for line in ax_c.lines:
            if str(line.get_label()).startswith("end after"):
                line.set_label(f"step {out[0]}: leaving")
    ax_c.set_xlim(*wlim)
    ax_c.set_ylim(*blim)
    ax_c.set_title(f"(b) log10 L(w, b): κ = {_kappa(run['condition_number'])}",
                   fontsize=text_size("title"))
    _valley_floor(ax_c, run, wlim, blim)
    # below the panel: wherever it sat inside, at a large offset it covered the valley floor
    ax_c.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False,
                fontsize=text_size(), handlelength=1.2, columnspacing=1.0, borderpad=0.2)
    ax_c.xaxis.label.set_fontsize(text_size("label"))
    ax_c.yaxis.label.set_fontsize(text_size("label"))
    ax_c.xaxis.set_major_locator(MaxNLocator(nbins=5))
    cax.tick_params(labelsize=text_size())
    cax.yaxis.label.set_fontsize(text_size("label"))
    floor = 1e-10
    t = np.arange(res["steps"] + 1)
    for r, name, style, col in ((run, "as given", "-", color(3)),
                                (centred, "centred", "--", color(0))):
        with np.errstate(invalid="ignore", over="ignore"):
            excess = np.clip(r["losses"] - r["min_loss"], floor, 1e30)
        ax_l.plot(t, excess, style, color=col, lw=2,
                  label=f"{name}, κ {_kappa(r['condition_number'])}")
    slow = int(np.argmax(np.abs(run["factors"])))
    with np.errstate(under="ignore", over="ignore"):
        predicted = run["mode_excess"][slow] * np.abs(run["factors"][slow]) ** (2.0 * t)
    ax_l.plot(t, np.clip(predicted, floor, 1e30), ":", color="black", lw=1.5,
              label=f"dominant mode:\n{_factor_text(abs(run['factors'][slow]))}^(2t)")
    ax_l.set_yscale("log")
    ax_l.yaxis.set_major_locator(_LogTicks())
    ax_l.yaxis.set_major_formatter(FuncFormatter(_decade_label))
    ax_l.yaxis.set_minor_formatter(NullFormatter())
    with np.errstate(invalid="ignore", over="ignore"):
        top = float(np.nanmax(np.clip(losses - run["min_loss"], floor, 1e30)))
    ax_l.set_ylim(floor / 3, max(10.0, top) * 3)
    ax_l.set_xlabel("gradient-descent step t", fontsize=text_size("label"))
    ax_l.set_ylabel("excess loss L - L*", fontsize=text_size("label"))
    ax_l.set_title(f"(c) step η = {res['step_fraction']:.2f} × 2/λ_max",
                   fontsize=text_size("title"))
    _legend_off_data(ax_l, headroom=True, fontsize=text_size())
    for ax in (ax_d, ax_c, ax_l):
        ax.tick_params(labelsize=text_size())
    fig.suptitle(res["summary"] + ("" if res["status"] == "ok" else f"\n{res['status']}"),
                 fontsize=text_size("title"),
                 color="black" if res["status"] == "ok" else OKABE_ITO["vermillion"])
    return fig
