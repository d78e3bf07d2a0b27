"""Seconds to grade one homework submission, and a class folder's throughput with N workers.

A class folder is built in a temporary directory: every lesson with exercises, handed in by
``students`` students (the committed lesson with its solutions, so every check runs to the
end and the capstone trains its network). It is graded twice with ``scripts/homework.py
grade``: with one worker (each submission's wall time, as the grader records it, gives the
per-submission figures) and with two workers (the throughput). The baseline, in the same run,
is what grading cost before: executing the whole lesson (``06_dropout``) in a Jupyter kernel,
which nbgrader's autograder did for every submission. Target: every submission <= 10 s.

Run: ``.venv/bin/python benchmarks/bench_grading.py`` (about two minutes).
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import homework  # noqa: E402


def _class_folder(folder: Path, students: int) -> int:
    count = 0
    for lesson in homework.graded_lessons():
        for s in range(students):
            dest = folder / f"student{s}" / f"Copy of {lesson.name}"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(lesson, dest)
            count += 1
    return count


def _execute_lesson(name: str) -> float:
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "notebooks")}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def run(students: int = 2, baseline: bool = True) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "class"
        n = _class_folder(folder, students)
        start = time.perf_counter()
        results = homework.grade([folder], Path(tmp) / "out1", workers=1)
        serial = time.perf_counter() - start
        start = time.perf_counter()
        homework.grade([folder], Path(tmp) / "out2", workers=2)
        parallel = time.perf_counter() - start
    per = sorted(r["seconds"] for r in results)
    by_lesson: dict[str, list[float]] = {}
    for r in results:
        by_lesson.setdefault(r["lesson"], []).append(r["seconds"])
    full = all(abs(sum(p["score"] for q in r["questions"] for p in q["parts"])
                   - sum(q["points"] for q in r["questions"])) < 1e-9 for r in results)
    out = {"submissions": n, "median_s": statistics.median(per), "max_s": per[-1],
           "per_lesson_s": {k: max(v) for k, v in sorted(by_lesson.items())},
           "serial_total_s": serial, "parallel2_total_s": parallel,
           "parallel2_per_min": 60 * n / parallel, "all_full_marks": full}
    print(f"{n} submissions ({students} per lesson), every one scored full marks: {full}")
    print(f"one submission: median {out['median_s']:.2f} s, slowest {out['max_s']:.2f} s "
          f"(target <= 10 s)")
    for lesson, sec in out["per_lesson_s"].items():
        print(f"  {lesson:<24} {sec:5.2f} s")
    print(f"class folder, 1 worker: {serial:.1f} s; 2 workers: {parallel:.1f} s "
          f"({out['parallel2_per_min']:.0f} submissions per minute, "
          f"{serial / parallel:.2f}x the 1-worker rate)")
    if baseline:
        base = _execute_lesson("06_dropout.ipynb")
        lesson_06 = out["per_lesson_s"]["06_dropout"]
        out.update(baseline_execute_06_s=base, speedup_vs_execute_06=base / lesson_06)
        print(f"baseline, executing lesson 06 in a kernel (what nbgrader re-ran): {base:.1f} s; "
              f"grading 06 is {base / lesson_06:.0f}x faster")
    return out


if __name__ == "__main__":
    run(baseline="--no-baseline" not in sys.argv)
