"""How many students' kernels one machine holds: N kernels running the same lesson at once.

    python benchmarks/bench_class.py                       # lesson 08, N = 1, 2, 4, 8
    python benchmarks/bench_class.py --lesson 03_initialisation.ipynb --n 1 2 3 4 6

Each kernel is a fresh ``python3`` kernel of this environment executing the lesson top to bottom
with nbclient (as a student's Run All), started at the same moment as the others. For every N
it reports the lesson's wall time (mean and slowest over the N kernels), each kernel's CPU time
(user + system) and peak RSS, and the load average before and after. It stops after the first N
whose mean lesson time exceeds 2x the time of N = 1 (the point a class notices) or after the
last N given.

From these it estimates what a machine of ``--cores`` cores and ``--memory-gb`` GB holds:

- by memory: (memory - ``--reserve-gb`` for the system and the hub) / peak RSS of one kernel;
- by CPU, lessons started together: the largest measured N whose lesson time stayed within
  2x (measured here), and on an idle machine ``2 x cores`` (a kernel computes on one thread, so
  N kernels on ``cores`` cores take ``N / cores`` times as long once N > cores);
- by CPU, a class at its own pace: ``cores x minutes x 60 / cpu1`` lessons' worth of CPU in
  ``--minutes`` (a student running the lesson once in that time uses cpu1 CPU seconds).

The machine's other load is *not* subtracted: on a machine shared with other jobs the measured
t1 is inflated and N barely changes it (the load average is printed so that this shows). Run it
on an idle machine to size a server. Results go to ``benchmarks/out/class.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_RUNNER = r"""
import json, resource, sys, time
import nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
sys.stdin.readline()  # all kernels' runners start on the same signal
start = time.perf_counter()
NotebookClient(nb, timeout=1800, kernel_name="python3",
               resources={"metadata": {"path": sys.argv[2]}}).execute()
elapsed = time.perf_counter() - start
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": elapsed, "kernel_cpu_s": ru.ru_utime + ru.ru_stime,
                  "kernel_peak_rss_mb": ru.ru_maxrss / 1024}))
"""


def run_n(path: Path, n: int) -> dict:
    """Execute ``path`` in ``n`` kernels at once."""
    env = {**os.environ, "TRAINLAB_NO_PROGRESS": "1", "PYTHONHASHSEED": "0"}
    env.pop("MPLBACKEND", None)
    procs = [subprocess.Popen([sys.executable, "-c", _RUNNER, str(path), str(path.parent)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(n)]
    time.sleep(2)  # let the runners import nbclient before the clock starts
    load_before = os.getloadavg()[0]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    rows = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode:
            raise SystemExit(f"bench_class: a kernel failed (exit {p.returncode})")
        rows.append(json.loads(out.strip().splitlines()[-1]))
    secs = [r["seconds"] for r in rows]
    return {"n": n, "mean_s": statistics.fmean(secs), "max_s": max(secs),
            "cpu_s": statistics.fmean(r["kernel_cpu_s"] for r in rows),
            "peak_rss_mb": max(r["kernel_peak_rss_mb"] for r in rows),
            "load_before": load_before, "load_after": os.getloadavg()[0]}


def run(lesson: str = "08_capstone.ipynb", ns: tuple[int, ...] = (1, 2, 4, 8),
        cores: int = 2, memory_gb: float = 24.0, reserve_gb: float = 2.0,
        minutes: float = 45.0) -> dict:
    path = ROOT / "notebooks" / lesson
    print(f"bench_class: {lesson}, this machine {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at the start", flush=True)
    rows: list[dict] = []
    for n in ns:
        row = run_n(path, n)
        rows.append(row)
        ratio = row["mean_s"] / rows[0]["mean_s"]
        row["ratio"] = ratio
        print(f"  N={n:<3} lesson {row['mean_s']:6.1f} s mean, {row['max_s']:6.1f} s slowest "
              f"({ratio:4.2f}x N=1); per kernel CPU {row['cpu_s']:5.1f} s, peak RSS "
              f"{row['peak_rss_mb']:5.0f} MB; load average {row['load_before']:.1f} -> "
              f"{row['load_after']:.1f}", flush=True)
        if ratio > 2:
            break
    t1, cpu1 = rows[0]["mean_s"], rows[0]["cpu_s"]
    peak = max(r["peak_rss_mb"] for r in rows)
    within = [r["n"] for r in rows if r["ratio"] <= 2]
    past = [r["n"] for r in rows if r["ratio"] > 2]
    by_memory = int((memory_gb - reserve_gb) * 1024 // peak)
    together_idle = 2 * cores
    own_pace = int(cores * minutes * 60 // cpu1)
    print(f"bench_class: within 2x up to N={max(within)} measured"
          + (f", past 2x at N={past[0]}" if past else " (2x not reached)")
          + f" (t1 {t1:.1f} s wall, {cpu1:.1f} s CPU); a {cores}-core / {memory_gb:.0f} GB "
          f"machine: memory for {by_memory} kernels ({memory_gb - reserve_gb:.0f} GB / "
          f"{peak:.0f} MB); CPU for {together_idle} lessons started together on idle cores, "
          f"{own_pace} runs of the lesson in {minutes:.0f} minutes "
          f"({cores} x {minutes * 60:.0f} s / {cpu1:.1f} s)")
    result = {"lesson": lesson, "cores_here": os.cpu_count(), "rows": rows,
              "within_2x_up_to": max(within), "past_2x_at": past[0] if past else None,
              "machine": {"cores": cores, "memory_gb": memory_gb, "reserve_gb": reserve_gb},
              "kernels_by_memory": by_memory, "together_idle": together_idle,
              "runs_in_minutes": own_pace, "minutes": minutes}
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "class.json").write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lesson", default="08_capstone.ipynb")
    ap.add_argument("--n", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--memory-gb", type=float, default=24.0)
    ap.add_argument("--reserve-gb", type=float, default=2.0)
    ap.add_argument("--minutes", type=float, default=45.0)
    o = ap.parse_args()
    run(o.lesson, tuple(o.n), o.cores, o.memory_gb, o.reserve_gb, o.minutes)
