"""Check that the lessons' prose stands on their printed evidence (``make test`` runs ``check``).

    python scripts/claims.py check [notebook ...]   # exit 1 and list every problem
    python scripts/claims.py list  [notebook ...]   # every claim and its verdict, per lesson

Three rules, on the stored outputs (nbval checks separately that re-executing a lesson prints the
same lines, so a claim whose verdict changes fails there):

1. **Every claim holds.** A claim cell (``trainlab.claims``) prints ``✓ claim [name] holds: ...``
   or ``✗ claim [name] FAILS: ...``; a stored ``FAILS`` is an error, and so is one name printed
   by two different cells.
2. **Prose points at claims that exist.** ``[claim: name]`` (or ``[claim: a, b]``, or
   ``[claim: 04/name]`` for lesson 04's claim) in a markdown cell must name a claim printed in
   that lesson; every line of a lesson's ``## Summary`` list must point at one or more claims.
3. **Every number quoted in prose is printed.** A decimal number, a percentage or a ratio
   (``0.934``, ``1e-9``, ``15 %``, ``7×``) in a markdown cell must appear, at the precision it
   is written, in a text output of its section (the cells from its ``##`` heading to the next;
   the title, goals, recap and summary use the whole lesson), or be a literal in the section's
   code (a setting such as a learning rate). Math (``$...$``), code spans, links, the
   References section, exercise statements and generated cells are not read. A number quoted
   from a paper or from another lesson is listed in an HTML comment in its cell,
   ``<!-- quoted: 82.5, 0.914 -->``, which a reader does not see.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"

CLAIM_LINE = re.compile(r"^\s*([✓✗]) claim \[([a-z0-9][a-z0-9-]*)\] (holds|FAILS):", re.M)
CLAIM_REF = re.compile(r"\[claim:\s*([^\]]+)\]")
REF_NAME = re.compile(r"(?:(\d\d)/)?([a-z0-9][a-z0-9-]*)")
QUOTED = re.compile(r"<!--\s*quoted:(.*?)-->", re.S)
HEADING = re.compile(r"^(#{1,6})\s+(.*)$", re.M)
# a number as prose writes it: 0.934, 1.5e-9, 15 %, 7×, 0.5–0.9 (each end on its own)
NUMBER = re.compile(r"(?<![\w.\-/^_])(\d+(?:\.\d+)?(?:[eE][-+−]?\d+)?)(\s?%|\s?×)?(?![\w.]*\d)")
NUMBER_IN_OUTPUT = re.compile(r"[-−]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
# words after which a number names something (a section, a figure, a version) rather than a result
NAMING = re.compile(r"(section|sections|figure|figures|fig\.|table|eq\.|equation|lesson|lessons|"
                    r"chapter|§|arxiv:|version|python|step|steps|layer|layers|cell|c|ex|"
                    r"exercise|appendix|page|pp\.|vol\.)\s*$", re.I)


@dataclass
class Lesson:
    path: Path
    cells: list[dict]
    claims: dict[str, tuple[int, bool]] = field(default_factory=dict)   # name -> (cell, holds)
    problems: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.path.name[:2]

    def problem(self, cell: int | None, text: str) -> None:
        where = f"{self.path.name}" + (f" c{cell}" if cell is not None else "")
        self.problems.append(f"{where}: {text}")


def source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def output_text(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(source({"source": out.get("text", "")}))
        elif out.get("output_type") in ("execute_result", "display_data"):
            data = out.get("data", {})
            if "text/plain" in data:
                parts.append(source({"source": data["text/plain"]}))
            if "text/html" in data:
                parts.append(re.sub(r"<[^>]+>", " ", source({"source": data["text/html"]})))
    return "\n".join(parts)


def load(path: Path) -> Lesson:
    nb = json.loads(path.read_text(encoding="utf-8"))
    lesson = Lesson(path, nb["cells"])
    for i, cell in enumerate(lesson.cells):
        if cell.get("cell_type") != "code":
            continue
        for mark, name, verdict in CLAIM_LINE.findall(output_text(cell)):
            if name in lesson.claims and lesson.claims[name][0] != i:
                lesson.problem(i, f"claim [{name}] is also printed by c{lesson.claims[name][0]}: "
                               "give each claim one name of its own")
            holds = mark == "✓" and verdict == "holds"
            lesson.claims[name] = (i, holds and lesson.claims.get(name, (i, True))[1])
            if not holds:
                lesson.problem(i, f"claim [{name}] FAILS in the stored output: fix the lesson "
                               "(the prose, the experiment or the criterion)")
    return lesson


# ---------------------------------------------------------------- sections and prose
def sections(lesson: Lesson) -> list[tuple[str, list[int]]]:
    """(heading, cell indices) for the part before the first ``##`` heading and each ``##``
    section; a ``###`` heading stays inside its ``##`` section."""
    out: list[tuple[str, list[int]]] = [("(before the first section)", [])]
    for i, cell in enumerate(lesson.cells):
        if cell.get("cell_type") == "markdown":
            for level, title in HEADING.findall(source(cell)):
                if len(level) == 2:
                    out.append((title.strip(), []))
        out[-1][1].append(i)
    return out


def is_generated(cell: dict) -> bool:
    return "trainlab" in cell.get("metadata", {})


def prose(text: str) -> str:
    """The text a reader reads as words: no math, code, links, images, HTML or comments."""
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"(?<!\\)\$.*?(?<!\\)\$", " ", text, flags=re.S)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"\[claim:[^\]]*\]", " ", text)
    return text.replace("−", "-").replace("\u2009", " ").replace("\u202f", " ")


def decimals(token: str) -> int:
    mant = token.lower().split("e")[0]
    return len(mant.split(".")[1]) if "." in mant else 0


def matches(token: str, kind: str, printed: list[tuple[float, str]]) -> bool:
    """Does prose ``token`` (with ``kind`` '%', '×' or '') agree with a printed number?"""
    value = float(token.replace("−", "-"))
    d = decimals(token)
    sci = "e" in token.lower()
    for y, text in printed:
        y = abs(y)
        candidates = [y, 100 * y] if kind == "%" else [y]
        for c in candidates:
            if sci:
                mant_digits = d + 1
                if c == 0 or value == 0:
                    if c == value:
                        return True
                    continue
                if float(f"{c:.{mant_digits - 1}e}") == value:
                    return True
            elif round(c, d) == value or text.lstrip("-−") == token:
                return True
    return False


def quoted_numbers(text: str) -> set[str]:
    found: set[str] = set()
    for body in QUOTED.findall(text):
        found.update(m.group(1) for m in NUMBER.finditer(body.replace("−", "-")))
    return found


def check_numbers(lesson: Lesson) -> None:
    secs = sections(lesson)
    every = [i for _, idx in secs for i in idx]
    for title, idx in secs:
        if title.lower().startswith("references"):
            continue
        whole = title.startswith("(before") or title.lower().startswith("summary")
        scope = every if whole else idx
        printed: list[tuple[float, str]] = []
        literals: set[str] = set()
        for j in scope:
            cell = lesson.cells[j]
            if cell.get("cell_type") != "code":
                continue
            for m in NUMBER_IN_OUTPUT.finditer(output_text(cell)):
                try:
                    printed.append((float(m.group(0).replace("−", "-")), m.group(0)))
                except ValueError:
                    continue
            code = re.sub(r"#.*", "", source(cell))
            literals.update(m.group(0) for m in re.finditer(r"\d+(?:\.\d+)?(?:e-?\d+)?", code))
        for j in idx:
            cell = lesson.cells[j]
            text = source(cell)
            if cell.get("cell_type") != "markdown" or is_generated(cell):
                continue
            if text.lstrip().startswith("**Exercise"):
                continue
            exempt = quoted_numbers(text)
            words = prose(text)
            for m in NUMBER.finditer(words):
                token, kind = m.group(1), (m.group(2) or "").strip()
                if not kind and "." not in token and "e" not in token.lower():
                    continue                        # a bare integer: a count, not a result
                if NAMING.search(words[:m.start()]):
                    continue
                if re.match(r"\.\d", words[m.end():m.end() + 2]):
                    continue                        # a version such as 3.10.0
                if token in exempt:
                    continue
                if matches(token, kind, printed) or token in literals:
                    continue
                lesson.problem(j, f"the number {token}{kind and ' ' + kind} in section "
                               f"'{title}' is printed by no output of "
                               f"{'the lesson' if whole else 'that section'} and is no literal "
                               "of its code: print it (a claim's evidence), or list a number "
                               "quoted from a paper or another lesson as <!-- quoted: "
                               f"{token} -->")


# ---------------------------------------------------------------- references and summary
def refs_in(text: str) -> list[tuple[str | None, str]]:
    out = []
    for body in CLAIM_REF.findall(text):
        for part in body.split(","):
            m = REF_NAME.fullmatch(part.strip())
            out.append((m.group(1), m.group(2)) if m else (None, "!" + part.strip()))
    return out


def check_refs(lesson: Lesson, all_lessons: dict[str, Lesson]) -> None:
    for j, cell in enumerate(lesson.cells):
        if cell.get("cell_type") != "markdown":
            continue
        for other, name in refs_in(source(cell)):
            if name.startswith("!"):
                lesson.problem(j, f"[claim: {name[1:]}] is not a claim name "
                               "(lower-case letters, digits and '-', optionally NN/ first)")
                continue
            target = all_lessons.get(other) if other else lesson
            if target is None:
                lesson.problem(j, f"[claim: {other}/{name}] points at lesson {other}, "
                               "which does not exist")
            elif name not in target.claims:
                lesson.problem(j, f"[claim: {(other + '/') if other else ''}{name}] points at "
                               f"no claim printed in {target.path.name}")


def summary_lines(lesson: Lesson) -> tuple[int, list[str]] | None:
    for j, cell in enumerate(lesson.cells):
        if cell.get("cell_type") != "markdown":
            continue
        text = source(cell)
        m = re.search(r"^##\s+Summary\s*$", text, re.M)
        if not m:
            continue
        body = text[m.end():]
        for later in lesson.cells[j + 1:]:     # a long Summary may go on in the next cells
            if later.get("cell_type") != "markdown" or re.match(r"#{1,2}\s", source(later)):
                break
            body += "\n" + source(later)
        nxt = re.search(r"^#{1,2}\s", body, re.M)
        body = body[:nxt.start()] if nxt else body
        items: list[str] = []
        for line in body.splitlines():
            if re.match(r"^\s*([-*]|\d+\.)\s+", line):
                items.append(line.strip())
            elif line.strip() and items:
                items[-1] += " " + line.strip()
        return j, items
    return None


def check_summary(lesson: Lesson) -> None:
    found = summary_lines(lesson)
    if found is None:
        if lesson.key != "00":
            lesson.problem(None, "no '## Summary' section: every lesson ends with one whose "
                           "lines point at claims")
        return
    j, items = found
    if not items:
        lesson.problem(j, "the Summary has no list lines")
    for item in items:
        if not refs_in(item):
            short = item if len(item) < 90 else item[:87] + "..."
            lesson.problem(j, f"summary line points at no claim: '{short}' — add "
                           "[claim: name] for the claim that backs it")


def check(paths: list[Path]) -> list[str]:
    lessons = {p.name[:2]: load(p) for p in paths}
    if paths and {p.resolve() for p in paths} != {p.resolve() for p in lesson_paths()}:
        for p in lesson_paths():                    # cross-lesson references need every lesson
            lessons.setdefault(p.name[:2], load(p))
    problems: list[str] = []
    for lesson in lessons.values():
        if lesson.path not in paths and lesson.path.resolve() not in {q.resolve() for q in paths}:
            continue
        check_refs(lesson, lessons)
        check_summary(lesson)
        check_numbers(lesson)
        problems.extend(lesson.problems)
    return problems


def lesson_paths() -> list[Path]:
    return sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("check", "list"):
        print(__doc__)
        return 2
    paths = [Path(a) for a in argv[1:]] or lesson_paths()
    if argv[0] == "list":
        for p in paths:
            lesson = load(p)
            print(f"{p.name}: {len(lesson.claims)} claims")
            for name, (cell, holds) in lesson.claims.items():
                print(f"  {'✓' if holds else '✗'} c{cell:<3} {name}")
        return 0
    problems = check(paths)
    for line in problems:
        print(line)
    n = len(paths)
    print(f"claims check: {len(problems)} problem(s) in {n} lesson(s)" if problems
          else f"claims check: {n} lesson(s) ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
