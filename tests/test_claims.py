"""trainlab.claims (verdicts against stated criteria) and scripts/claims.py (the lint that ties
the lessons' prose to their printed claims): each of the lint's three rules can fail."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from trainlab import claims

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("claims_lint", ROOT / "scripts" / "claims.py")
lint = importlib.util.module_from_spec(spec)
sys.modules["claims_lint"] = lint
spec.loader.exec_module(lint)


# ------------------------------------------------------------------ the claims module
def test_greater_holds_only_beyond_two_seed_sds(capsys):
    c = claims.greater("bn-faster", "BN is ahead", [0.934, 0.932, 0.936], [0.914, 0.912, 0.916],
                       labels=("BN", "plain"))
    line = capsys.readouterr().out
    assert c.holds and line.startswith("✓ claim [bn-faster] holds: BN is ahead")
    assert "BN 0.934 ± 0.002 vs plain 0.914 ± 0.002 over 3 seeds; difference 0.020" in line
    assert "2 × larger seed sd = 0.004" in line
    # the same difference with a seed spread of 0.03 is no effect
    c = claims.greater("noise", "BN is ahead", [0.90, 0.934, 0.968], [0.914, 0.912, 0.916])
    assert not c.holds and "✗ claim [noise] FAILS" in capsys.readouterr().out


def test_greater_refuses_fewer_than_three_seeds():
    with pytest.raises(ValueError, match="at least 3 seeds"):
        claims.greater("x", "s", [1.0, 2.0], [0.0, 0.1, 0.2])
    with pytest.raises(ValueError, match="non-finite"):
        claims.greater("x", "s", [1.0, np.nan, 2.0], [0.0, 0.1, 0.2])


def test_similar_and_thresholds(capsys):
    assert claims.similar("same", "s", [0.917, 0.91, 0.925], [0.914, 0.912, 0.916]).holds
    assert not claims.similar("differ", "s", [0.934, 0.933, 0.935], [0.914, 0.913, 0.915]).holds
    assert claims.similar("tol", "s", [0.934, 0.933, 0.935], [0.914, 0.913, 0.915],
                          tol=0.03).holds
    assert claims.at_least("bar", "s", [0.95, 0.96, 0.97], 0.94, label="acc").holds
    assert not claims.at_least("bar2", "s", [0.93, 0.96, 0.97], 0.94, label="acc").holds
    assert claims.at_most("tiny", "s", 1e-9, 1e-6, label="err", fmt=".1e").holds
    out = capsys.readouterr().out
    assert "every seed >= 0.940" in out and "(lowest 0.930)" in out and "err 1.0e-09" in out


def test_claim_validates_its_arguments():
    with pytest.raises(ValueError, match="claim name"):
        claims.claim("Bad Name", "s", True, "e", "c")
    with pytest.raises(ValueError, match="holds must be a bool"):
        claims.claim("ok", "s", 1, "e", "c")
    with pytest.raises(ValueError, match="evidence must be a non-empty string"):
        claims.claim("ok", "s", True, " ", "c")
    assert claims.claim("numpy-bool", "s", np.bool_(True), "e", "c").holds


def test_strict_mode_raises_on_a_false_claim(monkeypatch):
    monkeypatch.setenv(claims.STRICT_ENV, "1")
    with pytest.raises(claims.ClaimFailed, match=r"claim \[wrong\] FAILS"):
        claims.claim("wrong", "s", False, "e", "c")
    assert claims.claim("right", "s", True, "e", "c").holds


# ------------------------------------------------------------------ the lint
def lesson(tmp_path: Path, cells: list, name: str = "01_demo.ipynb") -> Path:
    nb = nbformat.v4.new_notebook()
    for kind, text, *out in cells:
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            cell = nbformat.v4.new_code_cell(text)
            if out:
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=out[0])]
            nb.cells.append(cell)
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


GOOD = [
    ("md", "# Demo\n\nGoals."),
    ("md", "## 1. An experiment\n\nBatch norm ends at 0.93, ahead of the plain net's 0.91 "
           "by 2 % ($\\eta = 0.5$, `lr=0.75`), learning rate 0.1 [claim: bn-ahead]. The paper "
           "saw 82.5 on ImageNet.<!-- quoted: 82.5 -->"),
    ("code", "lr = 0.1\nclaims.greater(...)",
     "✓ claim [bn-ahead] holds: BN ahead — BN 0.934 ± 0.002 vs plain 0.914 ± 0.002; "
     "difference 0.020\n"),
    ("md", "## Summary\n\n- Batch norm is ahead after 300 steps (0.93) [claim: bn-ahead].\n"
           "- It is ahead in every seed\n  [claim: bn-ahead]."),
    ("md", "## References\n\n- S. Ioffe (2015). arXiv:1502.03167, 0.777."),
]


def test_a_lesson_that_keeps_the_rules_passes(tmp_path):
    assert lint.check([lesson(tmp_path, GOOD)]) == []


def test_a_false_claim_fails(tmp_path):
    cells = list(GOOD)
    cells[2] = ("code", "lr = 0.1\nclaims.greater(...)", "✗ claim [bn-ahead] FAILS: BN ahead — BN "
                "0.934 ± 0.002 vs plain 0.914 ± 0.002; difference 0.020\n")
    problems = lint.check([lesson(tmp_path, cells)])
    assert len(problems) == 1 and "claim [bn-ahead] FAILS in the stored output" in problems[0]


def test_a_summary_line_without_a_claim_fails(tmp_path):
    cells = list(GOOD)
    cells[3] = ("md", "## Summary\n\n- Batch norm is ahead [claim: bn-ahead].\n"
                      "- Batch norm is magic.")
    problems = lint.check([lesson(tmp_path, cells)])
    assert len(problems) == 1 and "summary line points at no claim: '- Batch norm is magic.'" \
        in problems[0]


def test_a_summary_split_over_two_cells_is_read_to_its_end(tmp_path):
    """A Summary too long for one live slide goes on in the next markdown cell (no heading):
    its lines are checked too, up to the next heading."""
    cells = list(GOOD)
    cells.insert(4, ("md", "- Batch norm is magic."))
    problems = lint.check([lesson(tmp_path, cells)])
    assert len(problems) == 1 and "summary line points at no claim: '- Batch norm is magic.'" \
        in problems[0]
    cells[4] = ("md", "- Batch norm is ahead again [claim: bn-ahead].")
    assert lint.check([lesson(tmp_path, cells)]) == []


def test_a_reference_to_a_missing_claim_fails(tmp_path):
    cells = list(GOOD)
    cells[3] = ("md", "## Summary\n\n- Batch norm is ahead [claim: bn-behind].")
    problems = lint.check([lesson(tmp_path, cells)])
    assert any("[claim: bn-behind] points at no claim" in p for p in problems)


def test_a_number_printed_nowhere_in_its_section_fails(tmp_path):
    cells = list(GOOD)
    cells[1] = ("md", "## 1. An experiment\n\nBatch norm ends at 0.95 [claim: bn-ahead].")
    problems = lint.check([lesson(tmp_path, cells)])
    assert len(problems) == 1 and "the number 0.95 in section '1. An experiment'" in problems[0]
    # a percentage, a ratio and a number in scientific notation are read too
    cells[1] = ("md", "## 1. An experiment\n\nIt keeps 15 % of the gain, 7× less, 1e-9.")
    problems = lint.check([lesson(tmp_path, cells)])
    assert [p.split("the number ")[1].split(" in")[0] for p in problems] == ["15 %", "7 ×", "1e-9"]


def test_a_number_printed_in_another_section_does_not_count(tmp_path):
    cells = list(GOOD)
    cells.insert(3, ("md", "## 2. Another\n\nThe plain net ends at 0.914."))
    problems = lint.check([lesson(tmp_path, cells)])
    assert len(problems) == 1 and "0.914 in section '2. Another'" in problems[0]


def test_percentages_match_printed_fractions(tmp_path):
    cells = list(GOOD)
    cells[1] = ("md", "## 1. An experiment\n\nIt keeps 93 % [claim: bn-ahead].")
    assert lint.check([lesson(tmp_path, cells)]) == []


def test_the_script_exits_1_on_a_problem_and_0_when_clean(tmp_path):
    good = lesson(tmp_path, GOOD)
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "claims.py"), "check",
                          str(good)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout
    cells = list(GOOD)
    cells[3] = ("md", "## Summary\n\n- No claim here.")
    bad = lesson(tmp_path, cells, "02_bad.ipynb")
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "claims.py"), "check",
                          str(bad)], capture_output=True, text=True)
    assert run.returncode == 1 and "1 problem(s)" in run.stdout
