"""Learning-management systems: student ids from their export names, gradebooks they import.

Names a lecturer gets from "download all submissions":

- **Moodle** (assignment, "Download all submissions"): a folder per submission
  ``Full Name_12345_assignsubmission_file_/06_dropout.ipynb`` (or, without folders, the file
  ``Full Name_12345_assignsubmission_file_06_dropout.ipynb``); 12345 is the participant id that
  the grading worksheet's *Identifier* column writes as ``Participant 12345``.
- **Canvas** (assignment, "Download Submissions"): ``lastname_firstname_12345_67890_file.ipynb``
  (``smithjohn_12345_...`` too), ``smithjohn_late_12345_67890_...`` / ``..._LATE_...`` for a
  late one; 12345 is the Canvas user id (the gradebook's *ID* column), 67890 the id of the
  uploaded file, which grows with every upload (a later hand-in has a larger one).

Gradebooks written from the grader's results (one LMS assignment per lesson; the lesson's
automatic total is the grade; questions graded by hand, ``"manual": true`` in the results, are
left for the lecturer):

- **Canvas** gradebook import (Grades > Import): columns ``Student``, ``ID``, ``SIS User ID``,
  ``SIS Login ID``, ``Section``, then one column per lesson, and a ``Points Possible`` row.
- **Moodle** offline grading worksheet (Assignment > View all submissions > Grading action >
  Upload grading worksheet): ``Identifier`` (``Participant 12345``), ``Full name``, ``Grade``,
  ``Maximum Grade``, ``Last modified (grade)``, ``Feedback comments``; one file per lesson.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SYSTEMS = ("moodle", "canvas", "any")
"""``--lms`` values: one LMS's names, or "any" for Moodle's or Canvas's."""
MOODLE = re.compile(r"^(?P<name>.+?)_(?P<id>\d+)_assignsubmission_[a-z]+_(?P<rest>.*)$", re.S)
CANVAS = re.compile(r"^(?P<late>late_)?(?P<name>[^_].*?)_(?P<late2>late_)?(?P<id>\d+)_"
                    r"(?P<upload>\d+)_(?P<rest>.+)$", re.I | re.S)


@dataclass(frozen=True)
class LmsName:
    """What an LMS export name says about its submission."""

    system: str
    student: str
    name: str
    upload: int = 0
    late: bool = False


def parse(relative: Path, system: str | None = None) -> LmsName | None:
    """The LMS id in a submission's path (relative to the folder given to the grader), or None.

    ``system`` "moodle" or "canvas" tries only that one, "any" both; None tries Moodle's
    name only, which
    is unmistakable (``_assignsubmission_``), while ``name_1_2_x.ipynb`` may be anyone's file
    name: Canvas names are read when the lecturer asks for them."""
    if system is not None and system not in SYSTEMS:
        raise ValueError(f"unknown LMS {system!r}: expected one of {', '.join(SYSTEMS)}")
    for part in relative.parts:
        if system in (None, "moodle", "any"):
            m = MOODLE.match(part)
            if m:
                return LmsName("moodle", m["id"], m["name"].strip())
        if system in ("canvas", "any") and part == relative.name:
            m = CANVAS.match(part)
            if m:
                late = bool(m["late"] or m["late2"]) or "late" in (p.lower() for p in
                                                                    relative.parts[:-1])
                return LmsName("canvas", m["id"], m["name"], int(m["upload"]), late)
    return None


def example(system: str) -> str:
    """An export name of ``system`` for an error message."""
    moodle = "'Full Name_12345_assignsubmission_file_/notebook.ipynb'"
    canvas = "'lastname_firstname_12345_67890_notebook.ipynb'"
    return {"moodle": moodle, "canvas": canvas, "any": f"{moodle} or {canvas}"}[system]


# --------------------------------------------------------------------------------------------
# Gradebooks
# --------------------------------------------------------------------------------------------
def _auto(q: dict[str, Any]) -> bool:
    return not q.get("manual")


def lesson_scores(results: Iterable[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """``lesson -> student -> {"score", "max", "manual_max", "summary", "name"}`` from the
    grader's results (error rows without a lesson are left out)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in results:
        if not r.get("lesson"):
            continue
        qs = r["questions"]
        score = round(sum(p["score"] for q in qs if _auto(q) for p in q["parts"]), 2)
        summary = "; ".join(
            f"{q['qid']}: " + ("graded by hand" if not _auto(q) else
                               f"{sum(p['score'] for p in q['parts']):g}/{q['points']:g}")
            for q in qs)
        out.setdefault(r["lesson"], {})[r["student"]] = {
            "score": score, "max": sum(q["points"] for q in qs if _auto(q)),
            "manual_max": sum(q["points"] for q in qs if not _auto(q)),
            "summary": summary + (f"; {r['error']}" if r.get("error") else ""),
            "name": r.get("name", "")}
    return out


def write_canvas(results: list[dict[str, Any]], path: Path) -> tuple[Path, list[str]]:
    """A Canvas gradebook import file; returns it and the students left out (no Canvas id)."""
    lessons = lesson_scores(results)
    stems = sorted(lessons)
    students = sorted({s for by in lessons.values() for s in by})
    skipped = [s for s in students if not s.isdigit()]
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *stems])
        w.writerow(["    Points Possible", "", "", "", "",
                    *[f"{max(v['max'] for v in lessons[s].values()):g}" for s in stems]])
        for sid in students:
            if sid in skipped:
                continue
            name = next((lessons[s][sid]["name"] for s in stems if sid in lessons[s]), "")
            w.writerow([name, sid, "", "", "",
                        *[f"{lessons[s][sid]['score']:g}" if sid in lessons[s] else ""
                          for s in stems]])
    return path, skipped


def write_moodle(results: list[dict[str, Any]], folder: Path) -> tuple[list[Path], list[str]]:
    """One Moodle grading worksheet per lesson, ``moodle_<lesson>.csv``; returns them and the
    students left out (no Moodle participant id)."""
    written, skipped = [], set()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    for stem, by in sorted(lesson_scores(results).items()):
        path = folder / f"moodle_{stem}.csv"
        with path.open("w", newline="", encoding="utf-8-sig") as fh:
            w = csv.writer(fh)
            w.writerow(["Identifier", "Full name", "Grade", "Maximum Grade",
                        "Last modified (grade)", "Feedback comments"])
            for sid, v in sorted(by.items()):
                if not sid.isdigit():
                    skipped.add(sid)
                    continue
                w.writerow([f"Participant {sid}", v["name"], f"{v['score']:g}",
                            f"{v['max'] + v['manual_max']:g}", stamp, v["summary"]])
        written.append(path)
    return written, sorted(skipped)
