"""Report the figures a reader could not read, from the log that ``make nbval`` writes.

    python scripts/figcheck.py LOG     # exit 1 when LOG lists any problem

``make nbval`` runs the lessons with ``TRAINLAB_FIGCHECK_LOG=LOG``: every pyplot figure they
draw appends what :func:`trainlab.figcheck.figure_problems` finds (overlapping titles, labels
and legends; a legend on the data; a panel without any axis label or tick labels) to ``LOG``,
one JSON line per figure with problems. A missing or empty log means every figure was clean.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    path = Path(argv[0])
    seen: dict[tuple[str, str], list[str]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                key = (rec.get("cell", ""), rec.get("figure", ""))
                seen.setdefault(key, [])
                for p in rec["problems"]:
                    if p not in seen[key]:
                        seen[key].append(p)
    for (cell, figure), problems in seen.items():
        print(f"figure '{figure}' (cell starting '{cell}'):")
        for p in problems:
            print(f"  - {p}")
    print(f"figure check: {len(seen)} figure(s) with problems" if seen
          else "figure check: every figure legible (no overlaps, no legend on data)")
    return 1 if seen else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
