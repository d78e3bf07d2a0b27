"""Latency of the initialisation explorer at the lecture's size: 6 layers x 4096 wide, batch 16.

Explorer path: ``trainlab.widgets.init_explorer`` driven through its controls (scale moves on
the slider's grid), each update timed from the control change to the PNG in
``explorer.output`` (compute + redraw). The explorer computes the statistics of the whole scale
grid down to depth 20 in a background thread after its first draw, then draws the figure of
every scale at the current depth, the slider's three neighbours on each side first (computed
first, at the shown depth). The benchmark first times six moves among those neighbours right
after they are drawn (and prints how long after the first draw that is); then it waits for the
grid and all figures (their times are printed) and times the moves at depth 6 and at depth 20
(after waiting for that depth's figures), and three scheme changes (a forward pass with
cached weights each, before that scheme's grid exists). A move to a value whose figure is not
drawn yet costs one redraw, printed too.
Naive path: the same statistics and the same redraw, but the 4096 x 4096 weight matrices are
sampled again on every update with the lecture's ``np.random.randn``.

Both paths draw in the lecture style (``trainlab.style.use("lecture")``: 1200 px wide at 120
dpi, 14 pt text), the largest figure the course makes.
Targets: p50 <= 100 ms, >= 25x faster than naive. Wall times depend on the load of the
machine; the process CPU time of an update (all threads summed) is reported too.
Run ``python benchmarks/bench_init_explorer.py`` or call :func:`run`.
"""

from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from trainlab import style  # noqa: E402
from trainlab import widgets as W  # noqa: E402

DEPTH, WIDTH, BATCH = 6, 4096, 16
SCHEMES = ("xavier_fan_in", "kaiming_normal", "xavier_normal", "lecun_normal", "normal")


class _ResamplingCache(W.WeightCache):
    """A weight source that draws fresh matrices on every request (the naive explorer)."""

    def weight(self, layer: int, fan_in: int, fan_out: int, kind: str = "normal",
               keep: bool = True) -> np.ndarray:
        """A newly sampled unit-variance (fan_in, fan_out) float32 matrix."""
        self._mats.clear()
        return super().weight(layer, fan_in, fan_out, kind, keep=False)

    def first_product(self, width: int, kind: str = "normal") -> np.ndarray:
        """``inputs @ W1`` with a freshly sampled ``W1``."""
        return self.inputs(width) @ self.weight(1, width, width, kind)


class _LectureResamplingCache(_ResamplingCache):
    """The naive explorer as the lecture writes it: ``np.random.randn(fan_in, fan_out)``
    (float64, NumPy's legacy generator) sampled again on every update."""

    def weight(self, layer: int, fan_in: int, fan_out: int, kind: str = "normal",
               keep: bool = True) -> np.ndarray:
        """A newly sampled float64 standard-normal matrix (uniform schemes: rescaled rand),
        cast to the float32 the explorer computes in."""
        if kind == "normal":
            return np.random.randn(fan_in, fan_out).astype(np.float32)  # noqa: NPY002
        w = (np.random.rand(fan_in, fan_out) - 0.5) * 2.0 * np.sqrt(3.0)  # noqa: NPY002
        return w.astype(np.float32)


def _moves(n: int, schemes: bool = True) -> list[tuple[str, object]]:
    """``n`` control changes: scales a learner can reach with the slider (its 0.1-decade grid,
    never repeated), every fourth a new scheme when ``schemes``."""
    scales = 10.0 ** (-1.5 + 0.1 * np.arange(n))
    return [("scheme", SCHEMES[(i // 4) % len(SCHEMES)]) if schemes and i % 4 == 3
            else ("scale", float(scales[i])) for i in range(n)]


def _grid_ready(ex: W.Explorer) -> float:
    """Seconds until the background grid of the current setting is complete."""
    t = time.perf_counter()
    ex.grid.wait()
    return time.perf_counter() - t


def _time_moves(ex: W.Explorer, moves: list[tuple[str, object]]
                ) -> tuple[list[float], list[float]]:
    times, cpu = [], []
    for name, value in moves:
        t, c = time.perf_counter(), time.process_time()
        ex.controls[name].value = value
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        if ex.last_result["status"].startswith("error"):
            raise RuntimeError(ex.last_result["status"])
    return times, cpu


def _time_early() -> dict:
    """Moves right after the first draw, before the whole grid exists: the seconds until the
    background thread has drawn the figures of the slider's three neighbours on each side
    (computed first, at the shown depth), then six moves among them."""
    t0 = time.perf_counter()
    ex = W.init_explorer(depth=DEPTH, width=WIDTH, batch=BATCH, scheme="xavier_fan_in",
                         scale=1.0, widths=(WIDTH,))
    t1 = time.perf_counter()
    while len(ex.prerender.pngs) < 7 and time.perf_counter() - t1 < 120:
        time.sleep(0.005)
    near = time.perf_counter() - t1
    grid_done = bool(ex.grid.results)
    times, _ = _time_moves(ex, [("scale", 10.0 ** e) for e in (-0.1, -0.2, -0.3, 0.1, 0.2,
                                                                0.3)])
    ex.prerender.wait()
    return {"setup": t1 - t0, "near": near, "times": times, "grid_done": grid_done}


def _time_cached(n_updates: int) -> dict:
    """Scale moves at depth 6 and at depth 20 once the background grid is ready, and scheme
    moves (each a new grid: a forward pass with cached weights, then the grid again)."""
    t0 = time.perf_counter()
    ex = W.init_explorer(depth=DEPTH, width=WIDTH, batch=BATCH, scheme="xavier_fan_in",
                         scale=1.0, widths=(WIDTH,))
    setup = time.perf_counter() - t0
    grid = _grid_ready(ex)
    t0 = time.perf_counter()
    ex.prerender.wait()
    drawn = time.perf_counter() - t0
    times, cpu = _time_moves(ex, _moves(n_updates, schemes=False))
    ex.controls["depth"].value = 20
    t0 = time.perf_counter()
    ex.prerender.wait()
    drawn20 = time.perf_counter() - t0
    deep, _ = _time_moves(ex, _moves(n_updates, schemes=False)[::-1])
    ex.controls["depth"].value = DEPTH
    scheme_moves = [("scheme", s) for s in SCHEMES[1:4]]
    schemes, _ = _time_moves(ex, scheme_moves)
    return {"ex": ex, "setup": setup, "grid": grid, "drawn": drawn, "drawn20": drawn20,
            "times": times, "cpu": cpu, "deep": deep, "schemes": schemes}


def _time_naive(n_updates: int, ex: W.Explorer, lecture: bool = True) -> list[float]:
    """Same stats and redraw as the explorer's ``update``, weights sampled each time (with
    the lecture's float64 ``np.random.randn``, or with a float32 ``Generator``)."""
    naive = (_LectureResamplingCache if lecture else _ResamplingCache)(seed=0, batch=BATCH)
    times = []
    for name, value in _moves(n_updates):
        params = {**ex.values(), name: value}
        t = time.perf_counter()
        res = W.init_forward_stats(naive, params["scheme"], params["scale"], DEPTH, WIDTH,
                                   params["activation"], use_gain=params["gain"])
        W.render_png(ex.render(res))
        times.append(time.perf_counter() - t)
    return times


def run(n_updates: int = 20, n_naive: int = 3) -> dict:
    """Time ``n_updates`` cached updates and ``n_naive`` naive ones; returns the figures (s).

    torch runs with one thread, as in a lesson (``setup_notebook(threads=1)``).
    """
    import torch

    torch.set_num_threads(1)
    style.use("lecture")
    early = _time_early()
    r = _time_cached(n_updates)
    ex, cached, cpu, setup, deep = r["ex"], r["times"], r["cpu"], r["setup"], r["deep"]
    res = W.init_forward_stats(ex.cache, "kaiming_normal", 1.0, DEPTH, WIDTH, "tanh")
    t = time.perf_counter()
    for _ in range(5):
        W.init_forward_stats(ex.cache, "kaiming_normal", 1.0, DEPTH, WIDTH, "tanh")
    compute = (time.perf_counter() - t) / 5
    t = time.perf_counter()
    for _ in range(5):
        W.render_png(ex.render(res))
    redraw = (time.perf_counter() - t) / 5
    naive = _time_naive(n_naive, ex)
    naive32 = _time_naive(n_naive, ex, lecture=False)
    out = {
        "setup_s": setup,
        "early_near_drawn_s": early["near"],
        "early_p50_s": float(np.median(early["times"])),
        "early_max_s": float(np.max(early["times"])),
        "early_grid_done": early["grid_done"],
        "grid_s": r["grid"],
        "prerender_s": r["drawn"],
        "prerender_depth20_s": r["drawn20"],
        "depth20_p50_s": float(np.median(deep)),
        "depth20_p90_s": float(np.percentile(deep, 90)),
        "scheme_change_p50_s": float(np.median(r["schemes"])),
        "cached_p50_s": float(np.median(cached)),
        "cached_p90_s": float(np.percentile(cached, 90)),
        "cached_cpu_p50_s": float(np.median(cpu)),
        "cached_cpu_p90_s": float(np.percentile(cpu, 90)),
        "cached_compute_s": compute,
        "cached_redraw_s": redraw,
        "naive_p50_s": float(np.median(naive)),
        "naive_float32_generator_p50_s": float(np.median(naive32)),
        "n_updates": n_updates,
        "n_naive": n_naive,
    }
    out["speedup"] = out["naive_p50_s"] / out["cached_p50_s"]
    out["speedup_vs_float32_generator"] = out["naive_float32_generator_p50_s"] / \
        out["cached_p50_s"]
    out["redraw_path_s"] = redraw
    out["speedup_redraw_path"] = out["naive_p50_s"] / out["redraw_path_s"]
    out["meets_targets"] = (out["cached_p50_s"] <= 0.100 and out["early_p50_s"] <= 0.100
                            and out["speedup"] >= 25)
    return out


def main() -> None:
    """Print the benchmark's figures."""
    r = run()
    print(f"init explorer, {DEPTH} layers x {WIDTH} wide, batch {BATCH}")
    print(f"  setup (sample + cache weights, first draw): {r['setup_s']:.2f} s; background "
          f"grid (41 scales x 20 layers) ready {r['grid_s']:.1f} s later; the 41 figures "
          f"at depth 6 drawn {r['prerender_s']:.1f} s after that (at depth 20: "
          f"{r['prerender_depth20_s']:.1f} s after the depth change)")
    print(f"  right after the first draw: the 3 + 3 neighbouring scales drawn "
          f"{r['early_near_drawn_s']:.1f} s after it (whole grid ready then: "
          f"{r['early_grid_done']}); 6 moves among them p50 {1e3 * r['early_p50_s']:.1f} ms, "
          f"max {1e3 * r['early_max_s']:.1f} ms")
    print(f"  update, control change to new PNG in the output (figure drawn in the background): "
          f"p50 {1e3 * r['cached_p50_s']:.1f} ms, "
          f"p90 {1e3 * r['cached_p90_s']:.1f} ms over {r['n_updates']} updates "
          f"(for comparison: a forward pass {1e3 * r['cached_compute_s']:.1f} ms, "
          f"one redraw {1e3 * r['cached_redraw_s']:.1f} ms; "
          f"process CPU time p50 {1e3 * r['cached_cpu_p50_s']:.1f} ms, "
          f"p90 {1e3 * r['cached_cpu_p90_s']:.1f} ms)")
    print(f"  the same moves at depth 20: p50 {1e3 * r['depth20_p50_s']:.1f} ms, "
          f"p90 {1e3 * r['depth20_p90_s']:.1f} ms; a scheme change (forward pass with cached "
          f"weights, no grid yet): p50 {1e3 * r['scheme_change_p50_s']:.1f} ms")
    print(f"  naive update, the lecture's np.random.randn each time: p50 "
          f"{1e3 * r['naive_p50_s']:.0f} ms over {r['n_naive']} updates -> "
          f"speed-up {r['speedup']:.1f}x")
    print(f"  a move to a value not drawn yet (statistics from the grid, then one redraw): "
          f"{1e3 * r['redraw_path_s']:.0f} ms -> speed-up {r['speedup_redraw_path']:.1f}x")
    print(f"  resampling with a float32 Generator instead: p50 "
          f"{1e3 * r['naive_float32_generator_p50_s']:.0f} ms -> speed-up "
          f"{r['speedup_vs_float32_generator']:.1f}x")
    print(f"  targets (p50 <= 100 ms, >= 25x vs the lecture's naive version) met: "
          f"{r['meets_targets']}")


if __name__ == "__main__":
    main()
