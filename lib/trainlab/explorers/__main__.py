"""``python -m trainlab.explorers precompute [NAME ...]`` | ``check`` | ``export OUTDIR``.

* ``precompute``: compute and store the grid of every explorer (or the named ones) in
  ``data/explorers/`` (``make explorers``);
* ``check``: fail if a stored grid is stale (made by other code); a missing one is reported
  (that explorer computes every state live) and fails only with ``--all``;
* ``export OUTDIR``: a kernel-free viewer per explorer, ``OUTDIR/<name>/index.html``, and
  ``OUTDIR/index.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainlab.explorers")
    sub = parser.add_subparsers(dest="cmd", required=True)
    pre = sub.add_parser("precompute", help="compute and store the explorers' grids")
    pre.add_argument("names", nargs="*")
    chk = sub.add_parser("check", help="fail if a stored grid is stale (--all: or missing)")
    chk.add_argument("--all", action="store_true", help="also fail if a grid is missing")
    exp = sub.add_parser("export", help="write a kernel-free viewer per explorer")
    exp.add_argument("outdir", type=Path)
    exp.add_argument("names", nargs="*")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    from trainlab.explorers import spec

    names = getattr(args, "names", None) or [s.name for s in spec.SPECS]
    for n in names:
        spec.spec(n)  # a clear error for an unknown name
    if args.cmd == "precompute":
        start = time.perf_counter()
        for n in names:
            spec.precompute(spec.spec(n))
        total = sum(spec.path_of(n).stat().st_size for n in names)
        print(f"precomputed {len(names)} grids in {time.perf_counter() - start:.0f} s, "
              f"{total / 1e6:.2f} MB")
        return 0
    if args.cmd == "check":
        bad = []
        for n in names:
            try:
                grid = spec.load(n)
                print(f"{n}: {len(grid)} states, fresh")
            except FileNotFoundError:
                print(f"{n}: no stored grid (computes every state live; `make explorers`)")
                if args.all:
                    bad.append(f"{n}: missing")
            except spec.StaleGrid as exc:
                bad.append(f"{n}: {exc}")
        for line in bad:
            print(line, file=sys.stderr)
        return 1 if bad else 0
    from trainlab.explorers.export import export

    export(args.outdir, names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
