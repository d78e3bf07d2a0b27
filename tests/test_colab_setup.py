"""The Colab half of the set-up cell: install nothing that is there, enable widgets, say so."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import ipywidgets
import pytest

from trainlab import notebook


def test_in_colab_follows_simulation_env(monkeypatch):
    monkeypatch.delenv(notebook.SIMULATE_COLAB_ENV, raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert not notebook.in_colab()
    monkeypatch.setenv(notebook.SIMULATE_COLAB_ENV, "1")
    assert notebook.in_colab()


def test_requirements_of_the_installed_trainlab_are_met_here():
    missing, mismatched = notebook.missing_requirements()
    assert missing == [] and mismatched == []


def test_requirements_leave_out_the_extras():
    from importlib import metadata

    lines = metadata.requires("trainlab")
    assert any("jupyterlab" in line and "extra" in line for line in lines)
    names = [line.split(";")[0] for line in lines if "extra" not in line]
    assert not [n for n in names if n.startswith(("jupyterlab", "ipykernel", "notebook"))]
    assert any(n.startswith("ipywidgets") and "<9" in n and ">=7.6" in n for n in names)


def test_missing_and_mismatched_are_reported(monkeypatch):
    from importlib import metadata

    monkeypatch.setattr(metadata, "requires", lambda _d: [
        "numpy>=99", "surely-not-installed-pkg>=1", "jupyterlab>=4; extra == 'lab'"])
    missing, mismatched = notebook.missing_requirements()
    assert missing == ["surely-not-installed-pkg>=1"]
    assert mismatched == [f"numpy {metadata.version('numpy')}"]


def test_installed_pins_pin_every_distribution():
    from importlib import metadata

    pins = notebook.installed_pins().splitlines()
    assert f"numpy=={metadata.version('numpy')}" in pins
    assert len(pins) == len({p.split("==")[0].lower() for p in pins})


def test_colab_setup_installs_only_the_missing_under_constraints(monkeypatch, capsys):
    calls = []

    def fake_run(cmd, check):
        constraints = cmd[cmd.index("-c") + 1]
        with open(constraints) as f:
            calls.append((cmd, f.read()))
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(notebook, "missing_requirements",
                        lambda: (["tqdm>=4.64"], ["ipython 7.0.0"]))
    monkeypatch.setattr(subprocess, "run", fake_run)
    actions = notebook.colab_setup(started=None, fetch_data=False)
    (cmd, pins), = calls
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"] and cmd[-1] == "tqdm>=4.64"
    assert "--upgrade" not in cmd and "-U" not in cmd
    assert f"ipywidgets=={ipywidgets.__version__}" in pins.splitlines()
    out = capsys.readouterr().out
    assert out.startswith("Colab set-up: installed tqdm>=4.64 (no installed package changed)")
    assert "kept ipython 7.0.0" in out and len(actions) == 3


def test_colab_setup_with_nothing_missing_runs_no_pip(monkeypatch, capsys):
    monkeypatch.setattr(notebook, "missing_requirements", lambda: ([], []))
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("pip was run"))
    notebook.colab_setup(started=0.0, fetch_data=False)
    out = capsys.readouterr().out
    assert "every requirement already installed (nothing changed)" in out
    assert " s: " in out  # the time it took


@pytest.fixture
def fake_colab(monkeypatch):
    calls = []
    output = types.ModuleType("google.colab.output")
    output.enable_custom_widget_manager = lambda: calls.append("enabled")
    colab = types.ModuleType("google.colab")
    colab.output = output
    google = types.ModuleType("google")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    return calls


def test_ipywidgets_8_on_colab_enables_the_custom_widget_manager(fake_colab, monkeypatch):
    monkeypatch.setattr(ipywidgets, "__version__", "8.1.9")
    assert "enabled Colab's custom widget manager" in notebook._enable_widgets()
    assert fake_colab == ["enabled"]


def test_ipywidgets_7_on_colab_needs_nothing(fake_colab, monkeypatch):
    monkeypatch.setattr(ipywidgets, "__version__", "7.7.1")
    assert "7.7.1: Colab renders it as is" in notebook._enable_widgets()
    assert fake_colab == []


def test_generated_setup_cell_installs_with_no_deps():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from nbtools import SETUP_CODE

    assert '"--no-deps"' in SETUP_CODE and "colab_setup(_started)" in SETUP_CODE
    assert "--upgrade" not in SETUP_CODE
    compile(SETUP_CODE, "<setup cell>", "exec")


def test_header_cell_has_colab_and_binder_badges():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import nbtools

    src = nbtools.header_cell("06_dropout.ipynb").source
    assert "colab.research.google.com/github/" in src and "/notebooks/06_dropout.ipynb)" in src
    slug = nbtools.REPO_URL.split("github.com/", 1)[1]
    assert (f"[![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/"
            f"{slug}/main?labpath=notebooks%2F06_dropout.ipynb)") in src


def test_sync_keeps_the_ids_of_regenerated_cells():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import nbformat

    import nbtools

    paths = nbtools.lesson_paths()
    nbs = [nbformat.read(p, as_version=4) for p in paths]
    titles = [nbtools.title_of(nb, p) for nb, p in zip(nbs, paths, strict=True)]
    summaries = [nbtools.summary_of(nb) for nb in nbs]
    nb = nbs[1]
    header = next(c for c in nb.cells if c.metadata.get("trainlab") == "header")
    header.source = "an old badge"
    new = nbtools.synced(nb, paths, 1, titles, summaries)
    regenerated = next(c for c in new.cells if c.metadata.get("trainlab") == "header")
    assert regenerated.id == header.id and "mybinder.org" in regenerated.source
