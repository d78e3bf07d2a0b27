"""Colab's runtime list, as the course uses it: one data file, ``scripts/colab-runtime.json``.

    python scripts/colab_runtime.py show                  # the pins colab-check installs
    python scripts/colab_runtime.py refresh pip-freeze.txt --date 2026-08-19 [--python 3.13.15]

``refresh`` reads Colab's published ``pip-freeze.txt`` (googlecolab/backend-info; lines
``name==version`` or ``name @ https://.../name-version+local-...whl``), takes the versions of
the packages listed under ``"watch"`` and writes them with the date, the source and Colab's
Python version into the data file. ``"deviations"`` (a package colab-check installs at another
version than Colab's, and why) are kept; a deviation whose ``"colab"`` version no longer matches
is reported so that a person re-reads its reason; ``"builds"`` (where the same version is
installed from another build than Colab's, and why) are kept too. ``make colab-check``
installs the pins (:func:`pins`) on Colab's Python ``major.minor``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from urllib.parse import unquote

DATA = Path(__file__).resolve().with_name("colab-runtime.json")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_freeze(text: str) -> dict[str, str]:
    """``{canonical name: version}`` of a ``pip freeze`` listing (local labels like ``+cpu``
    dropped; editable installs, comments and options skipped)."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        if "==" in line:
            name, version = (s.strip() for s in line.split("==", 1))
        elif " @ " in line:
            name, url = (s.strip() for s in line.split(" @ ", 1))
            wheel = unquote(url.rsplit("/", 1)[-1])
            m = re.match(r"[^-]+-([^-]+)-.*\.whl$", wheel) or \
                re.match(r"[^-]+-(\d[^-]*)\.(?:tar\.gz|zip)$", wheel)
            if not m:
                continue
            version = m.group(1)
        else:
            continue
        out[canonical(name.split("[", 1)[0])] = version.split("+", 1)[0].split(";", 1)[0].strip()
    return out


def load(path: Path = DATA) -> dict:
    return json.loads(path.read_text())


def pins(data: dict | None = None) -> dict[str, str]:
    """What colab-check installs: Colab's versions with the recorded deviations applied."""
    data = load() if data is None else data
    return {name: data.get("deviations", {}).get(name, {}).get("used", version)
            for name, version in sorted(data["packages"].items())}


def python_minor(data: dict | None = None) -> str:
    data = load() if data is None else data
    return ".".join(data["python"].split(".")[:2])


def refresh(freeze_text: str, date: str, python: str | None, path: Path = DATA) -> list[str]:
    """Rewrite the data file from a freeze listing; returns what changed, in words."""
    data = load(path)
    found = parse_freeze(freeze_text)
    missing = [name for name in data["watch"] if name not in found]
    if missing:
        raise SystemExit(f"colab_runtime: the freeze lists none of {', '.join(missing)}; "
                         "is it Colab's pip-freeze.txt?")
    new = {name: found[name] for name in sorted(data["watch"])}
    changes = [f"{name} {data['packages'].get(name)} -> {v}" for name, v in new.items()
               if data["packages"].get(name) != v]
    if python and python != data["python"]:
        changes.append(f"Python {data['python']} -> {python}")
        data["python"] = python
    for name, dev in data.get("deviations", {}).items():
        if name in new and dev.get("colab") != new[name]:
            changes.append(f"deviation {name}: Colab now has {new[name]}, the file said "
                           f"{dev.get('colab')}; check its reason")
            dev["colab"] = new[name]
    data["packages"], data["date"] = new, date
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return changes


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("show")
    r = sub.add_parser("refresh")
    r.add_argument("freeze", type=Path, help="Colab's pip-freeze.txt")
    r.add_argument("--date", required=True, help="the date of that list (YYYY-MM-DD)")
    r.add_argument("--python", help="Colab's Python version, e.g. 3.13.15")
    r.add_argument("--data", type=Path, default=DATA)
    opts = ap.parse_args(argv)
    if opts.cmd == "show":
        data = load()
        print(f"Colab runtime of {data['date']}: Python {data['python']}")
        for name, version in pins(data).items():
            dev = data.get("deviations", {}).get(name)
            print(f"  {name}=={version}" + (f"  (Colab: {dev['colab']})" if dev else ""))
        for name, why in data.get("builds", {}).items():
            print(f"{name}'s build: {why}")
        return 0
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", opts.date):
        raise SystemExit("colab_runtime: --date must be YYYY-MM-DD")
    changes = refresh(opts.freeze.read_text(), opts.date, opts.python, opts.data)
    print("colab_runtime: " + ("; ".join(changes) if changes else "no change") +
          f" ({opts.data.name} dated {opts.date})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
