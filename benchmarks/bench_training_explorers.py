"""Latency of the live training explorers at their defaults, as a lesson runs them.

Setting: ``trainlab.notebook.setup_notebook()`` (float64 default dtype, one torch thread) and
the lecture style (``TRAINLAB_STYLE=lecture``: 1200 px figures at 120 dpi). Each explorer is
built with its defaults (its opening run is not timed), then a control is moved the way a
learner would and three times are taken from the change:

* ``status``: until the output says "training…" (the control's callback returns);
* ``first``: until the first partial figure (a curve segment) is in ``explorer.output`` (the
  final figure when the run ends before a partial one is drawn);
* ``whole``: until the run is complete and its final figure drawn (``explorer.wait()``).

Targets: first segment within 0.3 s, whole run within 2 s. Baseline in the same run: a plain
torch loop training the same float32 MLP(s) for the same steps and minibatch size (no
recording, no drawing), so ``whole / baseline`` says what recording and drawing cost. Wall
times depend on the load of the machine; the process CPU time of the whole run (all threads)
is printed as well. Run ``python benchmarks/bench_training_explorers.py`` or call :func:`run`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from trainlab import style  # noqa: E402
from trainlab import widgets as W  # noqa: E402
from trainlab.notebook import setup_notebook  # noqa: E402

MOVES: tuple[tuple[str, str, tuple[Any, ...]], ...] = (
    ("lr_explorer", "lr", (0.0316227766016838, 0.1, 0.0316227766016838)),
    ("init_training_explorer", "lr", (0.0316227766016838, 0.1, 0.0316227766016838)),
    ("dead_relu_explorer", "lr", (0.316227766016838, 0.1, 0.316227766016838)),
    ("keep_prob_explorer", "keep_prob", (0.7, 0.8, 0.9)),
)
"""Control changes a learner makes; the keep_prob explorer keeps what it has computed, so its
values are all new."""


def _time_move(ex: W.Explorer, name: str, value: Any) -> dict[str, float]:
    draws = ex.partial_draws
    t, c = time.perf_counter(), time.process_time()
    ex.controls[name].value = value
    status = time.perf_counter() - t
    text = ex.output.outputs[-1]["data"]["text/plain"]
    first = None
    while any(th.is_alive() for th in ex._threads):
        if ex.partial_draws > draws:
            first = time.perf_counter() - t
            break
        time.sleep(0.002)
    ex.wait()
    whole = time.perf_counter() - t
    first = whole if first is None else first
    if ex.last_result["status"].startswith("error"):
        raise RuntimeError(ex.last_result["status"])
    return {"status_s": status, "first_s": first, "whole_s": whole,
            "whole_cpu_s": time.process_time() - c, "training_shown": "training" in text,
            "partial_draws": ex.partial_draws - draws}


def _plain_loop(n_train: int, hidden: list[int], steps: int, batch: int, in_dim: int = 784,
                runs: int = 1, optimizer: str = "sgd") -> float:
    """Seconds for ``runs`` plain float32 torch loops of ``steps`` minibatch steps."""
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.random((n_train, in_dim), dtype=np.float32))
    y = torch.from_numpy(rng.integers(0, 10, n_train))
    t = time.perf_counter()
    for _ in range(runs):
        dims = [in_dim, *hidden]
        layers: list[torch.nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            layers += [torch.nn.Linear(a, b, dtype=torch.float32), torch.nn.ReLU()]
        model = torch.nn.Sequential(*layers, torch.nn.Linear(dims[-1], 10, dtype=torch.float32))
        opt = (torch.optim.Adam(model.parameters(), 1e-3) if optimizer == "adam"
               else torch.optim.SGD(model.parameters(), 0.1))
        for _step in range(steps):
            idx = torch.from_numpy(rng.integers(0, n_train, batch))
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.perf_counter() - t


def _baseline(builder: str) -> float:
    """The plain torch loop(s) of the same sizes as ``builder`` at its defaults."""
    if builder == "keep_prob_explorer":
        kp = W.KEEP_PROB_DEFAULTS
        return _plain_loop(kp["n_train"], [kp["width"]] * kp["depth"], kp["steps"],
                           kp["batch_size"],
                           in_dim=64, runs=len(kp["seeds"]), optimizer="adam")
    return _plain_loop(2000, [128] * 3, 150, 64, runs=2 if builder == "lr_explorer" else 1)


def run() -> dict[str, dict[str, Any]]:
    """Time each explorer's control changes (medians), each right after its baseline (the
    load of a shared machine changes from minute to minute)."""
    setup_notebook()
    style.use("lecture")
    out: dict[str, dict[str, Any]] = {}
    for builder, name, values in MOVES:
        ex: W.Explorer = getattr(W, builder)()
        rows = []
        for value in values:
            base = _baseline(builder)
            rows.append({**_time_move(ex, name, value), "baseline_s": base})
            rows[-1]["ratio"] = rows[-1]["whole_s"] / base
        med = {k: float(np.median([r[k] for r in rows])) for k in
               ("status_s", "first_s", "whole_s", "whole_cpu_s", "partial_draws",
                "baseline_s", "ratio")}
        med["training_shown"] = all(r["training_shown"] for r in rows)
        out[builder] = med
    return out


def main(print_fn: Callable[[str], None] = print) -> None:
    """Print the benchmark's figures."""
    r = run()
    print_fn(f"live training explorers at their defaults (torch default dtype "
             f"{torch.get_default_dtype()}, lecture style), medians over 3 control changes:")
    for name, m in r.items():
        print_fn(f"  {name}: 'training…' shown {1e3 * m['status_s']:.0f} ms "
                 f"({m['training_shown']}), first segment {m['first_s']:.2f} s, whole run "
                 f"{m['whole_s']:.2f} s (process CPU {m['whole_cpu_s']:.2f} s, "
                 f"{m['partial_draws']:.0f} partial draws); plain float32 torch loop of the "
                 f"same sizes {m['baseline_s']:.2f} s; whole run / loop {m['ratio']:.1f}x")
    ok = all(m["first_s"] <= 0.3 and m["whole_s"] <= 2.0 for m in r.values())
    print_fn(f"  targets (first segment <= 0.3 s, whole run <= 2 s) met: {ok}")


if __name__ == "__main__":
    main()
