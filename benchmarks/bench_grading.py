"""Seconds to grade one homework submission, the cost of the sandbox, a class's throughput.

A class folder is built in a temporary directory: every lesson with exercises, handed in by
``students`` students (the committed lesson with its solutions, so every check runs to the
end and the capstone trains its network). It is graded three times in the same run:

1. one submission after the other, each exercise in bubblewrap (:mod:`trainlab.checks.
   isolation`), as ``scripts/homework.py grade`` does: the per-submission figures;
2. the same, each exercise in a plain child process (``--unsafe``): the baseline of the
   isolation's cost, printed per submission (target: <= 1 s extra);
3. with ``homework.grade`` and two workers (sandboxed): the throughput, and from it the
   projected time of a class of 200 students x 8 lessons on 2 cores (target: <= 30 min).

A second baseline is what grading cost before this grader: executing the whole lesson
(``06_dropout``) in a Jupyter kernel, which nbgrader's autograder did for every submission.

Run: ``.venv/bin/python benchmarks/bench_grading.py [--students N] [--no-baseline]``
(about five minutes with one student per lesson on an idle 2-core machine).
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


TIMEOUT = 240.0
"""Seconds per exercise: generous, so that the capstone's trainings (about 15 s of one core)
finish on a loaded machine and every submission is graded to the end."""


def _startups(repeats: int = 15) -> tuple[float, float]:
    """Median seconds to start a child, run a one-line cell and call it: (sandboxed, plain),
    alternated so that both see the same load."""
    from trainlab.checks import grading

    cell = [{"qid": "x-solution", "source": "def f(x):\n    return 2 * x\n"}]
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(repeats):
        for isolated in (True, False):
            start = time.perf_counter()
            box = grading.Sandbox(cell, deadline=time.monotonic() + 60, isolated=isolated)
            box.call("f", (1.0,), {})
            box.close()
            times[isolated].append(time.perf_counter() - start)
    return statistics.median(times[True]), statistics.median(times[False])


def _serial(folder: Path, unsafe: bool) -> tuple[list[dict[str, Any]], float]:
    start = time.perf_counter()
    results = [homework.grade_file(sid, f, TIMEOUT, None, False, unsafe)
               for sid, f in homework.find_submissions([folder])]
    return results, time.perf_counter() - start


def run(students: int = 2, baseline: bool = True) -> dict[str, Any]:
    from trainlab.checks import isolation

    why = isolation.problem()
    if why:
        raise SystemExit(f"the sandbox cannot run here ({why}): nothing to measure")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "class"
        n = _class_folder(folder, students)
        results, serial = _serial(folder, unsafe=False)
        plain, serial_plain = _serial(folder, unsafe=True)
        start = time.perf_counter()
        homework.grade([folder], Path(tmp) / "out2", workers=2, timeout=TIMEOUT)
        parallel = time.perf_counter() - start
    extra = [(r["seconds"] - p["seconds"]) for r, p in zip(results, plain, strict=True)]
    boxed, bare = _startups()
    exercises = sum(len(r["questions"]) for r in results)
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
    class_min = 200 * 8 / out["parallel2_per_min"]
    out.update(isolation_extra_s=statistics.mean(extra), serial_plain_s=serial_plain,
               projected_class_min=class_min, start_sandboxed_s=boxed, start_plain_s=bare)
    print(f"{n} submissions ({students} per lesson), every one scored full marks: {full}")
    print(f"one submission (sandboxed): median {out['median_s']:.2f} s, slowest "
          f"{out['max_s']:.2f} s")
    plain_by = {p["path"]: p["seconds"] for p in plain}
    for lesson, sec in out["per_lesson_s"].items():
        base = max(plain_by[r["path"]] for r in results if r["lesson"] == lesson)
        print(f"  {lesson:<24} {sec:5.2f} s sandboxed, {base:5.2f} s plain child")
    print(f"isolation's cost: {statistics.mean(extra):+.2f} s per submission on average "
          f"(max {max(extra):+.2f} s; {exercises / n:.1f} sandboxes per submission; "
          f"{serial:.1f} s against {serial_plain:.1f} s for the folder, "
          f"{serial / serial_plain:.2f}x; target <= +1 s per submission)")
    print(f"one child started, a cell run and called, median of 15: {boxed:.3f} s sandboxed, "
          f"{bare:.3f} s plain: {boxed - bare:+.3f} s per exercise, "
          f"{(boxed - bare) * exercises / n:+.2f} s per submission")
    print(f"class folder, 2 workers: {parallel:.1f} s ({out['parallel2_per_min']:.1f} "
          f"submissions per minute, {serial / parallel:.2f}x the 1-worker rate)")
    print(f"projected: 200 students x 8 lessons = 1600 submissions on 2 cores: "
          f"{class_min:.0f} min (target <= 30 min)")
    if baseline:
        base = _execute_lesson("06_dropout.ipynb")
        lesson_06 = out["per_lesson_s"]["06_dropout"]
        out.update(baseline_execute_06_s=base, speedup_vs_execute_06=base / lesson_06)
        print(f"baseline, executing lesson 06 in a kernel (what nbgrader re-ran): {base:.1f} s; "
              f"grading 06 is {base / lesson_06:.0f}x faster")
    return out


if __name__ == "__main__":
    count = int(sys.argv[sys.argv.index("--students") + 1]) if "--students" in sys.argv else 2
    if count < 1:
        raise SystemExit(f"--students must be >= 1, not {count}")
    run(students=count, baseline="--no-baseline" not in sys.argv)
