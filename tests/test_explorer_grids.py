"""Explorers as data: finite controls, stored grids (fresh or refused), the live explorer
serving a grid state with the same figure, and the exported kernel-free viewer in Chromium."""

from __future__ import annotations

import dataclasses
import gzip
import importlib
import json
import sys
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import ipywidgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from trainlab.explorers import spec as S  # noqa: E402
from trainlab.explorers.export import export_one  # noqa: E402
from trainlab.explorers.live import widget_for  # noqa: E402
from trainlab.train import History  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")


def _small_preprocessing() -> S.ExplorerSpec:
    """The lesson's preprocessing explorer on a 3-state grid (offset 4.5, 5, 5.5)."""
    return dataclasses.replace(S.spec("preprocessing"), grid={"offset": (4.5, 5.0, 5.5)})


@pytest.fixture(scope="module")
def small_grid(tmp_path_factory):
    root = tmp_path_factory.mktemp("grids")
    S.precompute(_small_preprocessing(), root, log=lambda _m: None)
    return root, S.load(_small_preprocessing(), root)


def test_every_control_is_a_finite_list_and_its_widget_shows_exactly_that_list():
    log = S.log_slider("lr", "learning rate", 0.1, -3, 1)
    assert (len(log.values), log.values[0], log.values[-1], log.kind) == (41, 0.001, 10.0,
                                                                          "slider")
    lin = S.slider("kp", "keep_prob", 0.5, 0.3, 1.0, 0.05, readout=".2f")
    assert lin.values[0] == 0.3 and lin.values[-1] == 1.0 and 0.35 in lin.values
    whole = S.slider("depth", "depth", 3, 1, 8)
    assert whole.values == tuple(range(1, 9))
    labelled = S.choice("noise", "wrong labels", 0.3, (0.0, 0.3), labels=("0 %", "30 %"))
    assert labelled.values == (0.0, 0.3) and labelled.kind == "choice"
    listed = S.stepped("B", "images per statistic", 8, (2, 4, 8, 16, 32))
    assert S.toggle("g", "gain", True).values == (False, True)
    assert S.state_key({"x": 0.1 * 3}) == S.state_key({"x": 0.3})
    # the widget built from each declaration takes exactly the declared values, labelled
    w = widget_for(log)
    assert isinstance(w, ipywidgets.FloatLogSlider) and w.description == "learning rate"
    assert (w.min, w.max, w.step, w.value, w.readout_format) == (-3, 1, 0.1, 0.1, ".3")
    assert not w.continuous_update
    w = widget_for(lin)
    assert isinstance(w, ipywidgets.FloatSlider) and not isinstance(w, ipywidgets.IntSlider)
    assert (w.min, w.max, w.step, w.readout_format) == (0.3, 1.0, 0.05, ".2f")
    w = widget_for(whole)
    assert isinstance(w, ipywidgets.IntSlider) and (w.min, w.max, w.value) == (1, 8, 3)
    w = widget_for(labelled)
    assert isinstance(w, ipywidgets.Dropdown) and w.options == (("0 %", 0.0), ("30 %", 0.3))
    assert w.value == 0.3 and w.label == "30 %"
    w = widget_for(listed)
    assert isinstance(w, ipywidgets.SelectionSlider) and w.options == (2, 4, 8, 16, 32)
    assert isinstance(widget_for(S.toggle("g", "gain", True)), ipywidgets.Checkbox)


def test_a_default_outside_a_control_is_refused_with_the_value_and_the_range():
    with pytest.raises(ValueError, match=r"lr must be in \[0.001, 10\], got 100"):
        S.log_slider("lr", "learning rate", 100, -3, 1)
    with pytest.raises(ValueError, match=r"step_fraction must be in \[0.05, 1.1\], got 2"):
        S.slider("step", "step", 2, 0.05, 1.1, 0.05, arg="step_fraction")
    with pytest.raises(ValueError, match=r"depth must be an int in \[1, 8\], got 2.5"):
        S.slider("depth", "depth", 2.5, 1, 8)
    with pytest.raises(ValueError, match=r"B must be one of \[2, 4\], got 3"):
        S.stepped("B", "B", 3, (2, 4))
    with pytest.raises(ValueError, match=r"optimizer must be one of \['sgd'\], got 'x'"):
        S.choice("optimizer", "optimizer", "x", ("sgd",))


def test_a_subgrid_value_that_the_control_cannot_take_is_refused():
    bad = dataclasses.replace(S.spec("preprocessing"), grid={"offset": (0.25,)})
    controls = [S.slider("offset", "input offset", 5.0, -10.0, 10.0, 0.5)]
    with pytest.raises(ValueError, match=r"\[0.25\].*'offset'"):
        list(bad.states(controls))
    with pytest.raises(ValueError, match="unknown explorer 'nope'"):
        S.spec("nope")


def test_results_round_trip_as_plain_data():
    h = History(curves=[{"step": 0, "train_loss": 2.3}], config={"lr": 0.1}, diverged=True,
                diverged_at=7)
    res = {"h": {"bn": h}, "arr": np.arange(6, dtype=np.float32).reshape(2, 3),
           "seen": {(0.5, 300): (0.8, 0.1)}, "nan": float("nan"), "t": ("a", 1)}
    back = S.decode(json.loads(json.dumps(S.encode(res))))
    assert dataclasses.replace(back["h"]["bn"], best_value=0.0) == dataclasses.replace(
        h, best_value=0.0) and np.isnan(back["h"]["bn"].best_value)
    assert back["arr"].dtype == np.float32 and np.array_equal(back["arr"], res["arr"])
    assert back["seen"] == {(0.5, 300): (0.8, 0.1)} and np.isnan(back["nan"])
    assert back["t"] == ("a", 1)
    with pytest.raises(TypeError, match=r"result\.f: a function"):
        S.encode({"f": lambda: 0})


def test_the_live_view_of_a_grid_state_is_the_figure_drawn_from_the_stored_result(small_grid):
    _root, grid = small_grid
    assert len(grid) == 3
    served = _small_preprocessing().build()
    served.stored = grid
    computed = _small_preprocessing().build()
    for offset in (5.5, 4.5):
        served.controls["offset"].value = offset
        computed.controls["offset"].value = offset
        assert served.last_png == computed.last_png
        assert served.output.outputs[-1]["data"]["text/plain"] == \
            computed.output.outputs[-1]["data"]["text/plain"]
    assert served.served == 2 and computed.served == 0
    import io

    from PIL import Image  # the image carries its size: one layout in the front end

    size = Image.open(io.BytesIO(served.last_png)).size
    assert served.output.outputs[0]["metadata"] == {
        "image/png": {"width": size[0], "height": size[1]}}
    served.controls["offset"].value = 0.0            # off the grid: computed
    assert served.served == 2 and served.last_result["offset"] == 0.0


def test_a_changed_compute_function_invalidates_its_grid(tmp_path, monkeypatch, small_grid):
    mod = tmp_path / "tl_fake_explorer.py"
    mod.write_text(textwrap.dedent("""
        from trainlab.style import color  # noqa: F401

        def compute(x):
            return {"y": 2 * x}
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    m = importlib.import_module("tl_fake_explorer")
    before = S.code_hash(m)
    mod.write_text(mod.read_text().replace("2 * x", "3 * x"))
    importlib.invalidate_caches()
    import linecache

    linecache.checkcache(str(mod))
    m = importlib.reload(m)
    assert S.code_hash(m) != before
    sys.modules.pop("tl_fake_explorer", None)
    # the hash covers the trainlab modules the explorer's module calls
    seen: dict = {}
    S._trainlab_modules(S.spec("preprocessing").module, seen)
    assert {"trainlab.health", "trainlab.explorers.core", "trainlab.style"} <= set(seen)
    # a stored grid with another hash is refused, and the live explorer then computes
    root, _grid = small_grid
    stale = tmp_path / "stale"
    stale.mkdir()
    doc = json.loads(gzip.decompress(S.path_of("preprocessing", root).read_bytes()))
    doc["code_hash"] = "0" * 16
    S.path_of("preprocessing", stale).write_bytes(gzip.compress(json.dumps(doc).encode()))
    with pytest.raises(S.StaleGrid, match="code_hash '0000000000000000'"):
        S.load(_small_preprocessing(), stale)
    monkeypatch.setattr(S, "GRID_DIR", stale)
    monkeypatch.setattr(S, "_LOADED", {})
    assert S.grid_for("preprocessing_explorer", {}) is None


def test_committed_grids_are_fresh_and_hold_no_errors():
    files = sorted(S.GRID_DIR.glob("*.json.gz"))
    assert files, "no stored grids: run `make explorers`"
    for path in files:
        name = path.name.removesuffix(".json.gz")
        grid = S.load(name)            # StaleGrid if the code changed since `make explorers`
        statuses = [json.loads(json.dumps(r.get("status"))) for r in grid.doc["states"].values()]
        assert not any(str(st).startswith("error") for st in statuses), name
        # the grid reaches both ends of every control it varies
        for c in grid.doc["controls"]:
            if len(c["grid"]) > 1 and c["kind"] == "slider" and c["grid"] == c["values"]:
                assert c["grid"][0] == c["values"][0] and c["grid"][-1] == c["values"][-1]


@pytest.mark.parametrize("name", [s.name for s in S.SPECS])
def test_no_stored_state_draws_a_legend_on_the_data_or_text_past_the_figure_edge(name):
    """Every state of a committed grid, drawn as the live explorer draws it: no legend on
    the data of its panel, no text cut off at the edge of the PNG, no two texts on each other
    (:func:`trainlab.figcheck.figure_problems` with ``edges``; the init explorer's histograms
    show shapes and leave their count axis unlabelled on purpose, so that rule is left out)."""
    from trainlab import figcheck
    from trainlab.style import apply_style

    if not S.path_of(name).exists():
        pytest.skip(f"no stored {name} grid: run `make explorers`")
    grid = S.load(name)
    with matplotlib.rc_context():
        apply_style()
        explorer = grid.spec.build(quiet=True)
        bad = {}
        for state in grid.states():
            fig = explorer.render(grid.get(state))
            fig.canvas.draw()
            found = [p for p in figcheck.figure_problems(fig, edges=True)
                     if " has no " not in p]
            if found:
                bad[S.state_key(state)] = found
    assert not bad, f"{len(bad)} of {len(grid)} states: {dict(list(bad.items())[:3])}"


def test_a_lesson_call_gets_its_stored_grid():
    s = S.spec("preprocessing")
    if not S.path_of(s.name).exists():
        pytest.skip("no stored preprocessing grid: run `make explorers`")
    ex = s.build(attach_grid=True)
    assert ex.stored is not None and ex.served == 1   # the opening state came from the grid
    ex.controls["offset"].value = -10.0               # a grid extreme, served
    assert ex.served == 2 and ex.last_result["offset"] == -10.0
    ex.controls["step"].value = 0.3                   # off the grid: computed
    assert ex.served == 2 and ex.last_result["step_fraction"] == pytest.approx(0.3)


def test_the_exported_viewer_redraws_the_stored_state_in_chromium(small_grid, tmp_path):
    root, grid = small_grid
    entry = export_one(_small_preprocessing(), tmp_path, grid)
    assert entry["states"] == 3 and entry["path"] == "preprocessing/index.html"
    page = tmp_path / entry["path"]
    text = page.read_text()
    assert "http://" not in text and "https://" not in text
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    data = json.loads((page.parent / "data.js").read_text()
                      .removeprefix("window.TRAINLAB_EXPLORER = ").rstrip().rstrip(";"))
    offset = [c["name"] for c in data["controls"]].index("offset")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            tab = browser.new_page()
            errors: list[str] = []
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.goto(page.as_uri())
            img = tab.locator("#figure")
            start = img.get_attribute("data-state")
            assert start.split(",")[offset] == "1"                  # the lesson's offset 5
            assert tab.locator("label[for=ctl-offset]").inner_text() == "input offset"
            tab.focus("#ctl-offset")
            tab.keyboard.press("ArrowRight")
            key = img.get_attribute("data-state")
            assert key.split(",")[offset] == "2"
            image, status = data["states"][key]
            assert img.get_attribute("src") == image
            assert tab.locator("#status").text_content() == status
            assert tab.evaluate("document.getElementById('figure').naturalWidth") > 100
            assert tab.locator("#ctl-offset + output").inner_text() == "5.5"
            assert not errors
        finally:
            browser.close()
    from trainlab.explorers.core import _status_line

    stored = grid.get(grid.states()[2])
    assert stored is not None and stored["offset"] == 5.5 and _status_line(stored) == status


def test_keep_prob_figure_is_the_same_whatever_order_the_states_are_visited():
    """The keep_prob explorer's figure and numbers are a function of the state alone: two
    explorers visiting the same states in opposite orders (each state computed first in one
    and after the other in the other, as the grid's precompute computes them one after the
    other) show identical PNGs and data, also after a detour through another setting."""
    from trainlab.explorers import keep_prob_explorer

    kw = {"steps": 12, "record_every": 4, "n_train": 100, "train_sizes": (100,),
          "width": 32, "widths": (32,)}
    states = [0.5, 0.7]

    def visit(order):
        ex = keep_prob_explorer(keep_prob=order[0], **kw)
        shown = {order[0]: (ex.last_png, ex.last_result)}
        for kp in order[1:]:
            ex.controls["keep_prob"].value = kp
            ex.wait()
            shown[kp] = (ex.last_png, ex.last_result)
        ex.controls["label_noise"].value = 0.0     # another setting and back
        ex.wait()
        ex.controls["label_noise"].value = 0.3
        ex.wait()
        shown["back"] = (ex.last_png, ex.last_result)
        return shown

    forward, backward = visit(states), visit(states[::-1])
    for kp in states:
        (png_a, res_a), (png_b, res_b) = forward[kp], backward[kp]
        assert png_a is not None and png_a == png_b, f"keep_prob {kp}: the figures differ"
        assert res_a["status"] == res_b["status"] and not res_a["status"].startswith("error")
        np.testing.assert_array_equal(res_a["val_acc"], res_b["val_acc"])
        np.testing.assert_array_equal(res_a["reference"]["val_acc"],
                                      res_b["reference"]["val_acc"])
        assert res_a["summary"] == res_b["summary"]
    assert forward[0.5][0] != forward[0.7][0]
    assert forward["back"][0] == forward[0.7][0] and backward["back"][0] == backward[0.5][0]


def test_a_cross_of_subgrids_stores_each_state_once_and_other_subgrids_make_a_grid_stale(
        small_grid):
    s = S.spec("preprocessing")
    cross = dataclasses.replace(s, grid=({"offset": (4.5, 5.0)}, {"scale": (0.1, 1.0)}))
    controls = cross.controls(cross.build(quiet=True))
    got = [(st["offset"], st["scale"]) for st in cross.states(controls)]
    assert sorted(got) == [(4.5, 1.0), (5.0, 0.1), (5.0, 1.0)]    # (5, 1) is in both, once
    assert cross.grid_json() == [{"offset": [4.5, 5.0]}, {"scale": [0.1, 1.0]}]
    root, _grid = small_grid                      # stored for offsets 4.5, 5, 5.5 only
    fewer = dataclasses.replace(_small_preprocessing(), grid={"offset": (4.5, 5.0)})
    with pytest.raises(S.StaleGrid, match=r"grid \[\{'offset': \[4.5, 5.0, 5.5\]\}\] != "
                                          r"\[\{'offset': \[4.5, 5.0\]\}\]"):
        S.load(fewer, root)


def _dead_relu_grid_at(index: int):
    grid = S.load("dead-relu")
    lrs = [S.decode(v) for c in grid.doc["controls"] if c["name"] == "lr" for v in c["grid"]]
    state = next(st for st in grid.states()
                 if S.state_key({"lr": st["lr"]}) == S.state_key({"lr": lrs[index]}))
    return grid, lrs, state


def test_the_states_drawn_ahead_go_on_the_way_the_slider_last_moved():
    if not S.path_of("dead-relu").exists():
        pytest.skip("no stored dead-relu grid: run `make explorers`")
    grid, lrs, state = _dead_relu_grid_at(20)

    def at(states):
        return [lrs.index(next(v for v in lrs if S.state_key({"lr": v}) ==
                               S.state_key({"lr": st["lr"]}))) for st in states]

    assert at(grid.neighbours(state)) == [19, 21, 18, 22]
    assert at(grid.neighbours(state, heading=("lr", -1))) == [19, 18, 17, 16, 21, 22]
    assert at(grid.neighbours(state, heading=("lr", 1))) == [21, 22, 23, 24, 19, 18]
    _g, _l, last = _dead_relu_grid_at(len(lrs) - 1)          # at the end: nothing ahead
    assert at(grid.neighbours(last, heading=("lr", 1))) == [len(lrs) - 2, len(lrs) - 3]


def test_a_slider_moved_left_gets_the_next_states_left_drawn_and_logs_its_time(
        tmp_path, monkeypatch):
    if not S.path_of("dead-relu").exists():
        pytest.skip("no stored dead-relu grid: run `make explorers`")
    log = tmp_path / "timings.jsonl"
    monkeypatch.setenv("TRAINLAB_EXPLORER_TIMINGS", str(log))
    ex = S.spec("dead-relu").build(attach_grid=True)
    ex.wait_prerender(60)
    _grid, lrs, _state = _dead_relu_grid_at(20)
    keys = [S.state_key({"lr": v}) for v in lrs]
    here = keys.index(S.state_key({"lr": ex.controls["lr"].value}))
    ex.controls["lr"].value = lrs[here - 1]
    assert ex._heading == ("lr", -1) and ex.served == 2
    ex.wait_prerender(60)
    for j in range(here - 2, here - 6, -1):                 # the next four to the left
        assert ex.stored.key({**ex.values(), "lr": lrs[j]}) in ex._stored_pngs, j
    line = json.loads(log.read_text().splitlines()[-1])
    assert line["how"] == "png" and line["kernel_ms"] >= 0
    assert line["title"] == "Dead ReLUs and the learning rate"


def test_the_exported_viewer_of_a_cross_says_which_states_it_does_not_hold(tmp_path):
    """A stored product of 2 x 2 states whose viewer holds only the cross through the lesson's
    state (``web``): the fourth state is not exported, and the viewer says so."""
    cross = dataclasses.replace(S.spec("preprocessing"),
                                grid={"offset": (5.0, 5.5), "scale": (0.1, 1.0)},
                                web=({"offset": (5.0, 5.5)}, {"scale": (0.1,)}),
                                web_why="the cross")
    S.precompute(cross, tmp_path / "grids", log=lambda _m: None)
    grid = S.load(cross, tmp_path / "grids")
    assert len(grid) == 4
    entry = export_one(cross, tmp_path / "out", grid)
    assert entry["states"] == 3                         # (5, 1), (5.5, 1), (5, 0.1)
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            tab = browser.new_page()
            tab.goto((tmp_path / "out" / entry["path"]).as_uri())
            img, status = tab.locator("#figure"), tab.locator("#status")
            tab.focus("#ctl-offset")
            tab.keyboard.press("ArrowRight")                # offset 5.5 at scale 1: stored
            assert img.is_visible() and "not in this viewer" not in status.text_content()
            tab.focus("#ctl-scale")
            tab.keyboard.press("ArrowLeft")                 # offset 5.5 at scale 0.1: not
            assert not img.is_visible()
            assert status.text_content() == (
                "input offset 5.5 with feature scale 0.1 is not in this viewer (it holds the "
                "cross): set input offset to 5 or feature scale to 1, the lesson's value")
            tab.focus("#ctl-offset")
            tab.keyboard.press("ArrowLeft")                 # offset 5 at scale 0.1: stored
            assert img.is_visible() and "not in this viewer" not in status.text_content()
        finally:
            browser.close()
