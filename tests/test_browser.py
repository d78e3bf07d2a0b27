"""The widgets in a real browser: JupyterLab in headless Chromium driven by playwright.

Starts JupyterLab on 127.0.0.1 with a token on a copy of the lessons, runs every cell through
the Run menu, moves a slider of every explorer with the keyboard, and checks that the plot
changed and that no error output appeared. The time from each keypress to the explorer's new
figure on screen (measured in the page: the keydown event's time stamp to the animation frame
after the new image is decoded, :data:`_WATCH_JS`) is recorded per explorer
(``test-artifacts/latency-<explorer>.json``, p50 and max printed; not asserted: speed is a
figure, see ``benchmarks/bench_explorer_latency.py`` for grid-served against recomputed).
Screenshots go to ``test-artifacts/``. The server is stopped
by its own process id.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

import livedeck

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a copy of notebooks/ (so autosave never touches the repo)."""
    _require_chromium()
    root = tmp_path_factory.mktemp("lab")
    try:
        with livedeck.lab_server(ROOT / "notebooks", root) as server:
            yield server
    except RuntimeError as e:
        pytest.fail(str(e))


@pytest.fixture(scope="module")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _run_all(page, timeout_s: float = 420) -> None:
    """Run All Cells from the Run menu and wait until every code cell has run."""
    page.locator(".jp-Notebook").first.wait_for(timeout=90_000)
    page.locator("#jp-main-statusbar").get_by_text("Idle").first.wait_for(timeout=120_000)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    deadline = time.monotonic() + timeout_s
    time.sleep(2)
    while time.monotonic() < deadline:
        prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
        done = prompts and all(p.strip() not in ("[*]:", "[ ]:", "") for p in prompts)
        if done and page.locator("#jp-main-statusbar").get_by_text("Idle").count():
            return
        time.sleep(1)
    raise AssertionError("the notebook did not finish running")


def _explorer_image(page, slider_label: str, nth: int = 0):
    """The ``nth`` slider labelled ``slider_label`` and the <img> of the explorer that holds it."""
    label = page.locator("label", has_text=re.compile(rf"^\s*{re.escape(slider_label)}\s*$"))
    slider = page.locator(".widget-slider", has=label).nth(nth)
    explorer = slider.locator(
        "xpath=ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' widget-vbox ')]"
        "[.//div[contains(@class, 'widget-output')]][1]")
    return slider, explorer.locator(".widget-output img").first


def _assert_no_errors(page) -> None:
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                          has_text="Traceback")
    assert errors.count() == 0, errors.first.inner_text()[:2000]
    tracebacks = page.locator(".jp-RenderedText", has_text="Traceback (most recent call last)")
    assert tracebacks.count() == 0


CASES = [("03_initialisation.ipynb", (("init", "scale", 0), ("init-training", "scale", 1),
                                       ("init-training-lr", "learning rate", 0),
                                       ("dashboard-03", "learning rate", 1))),
         ("06_dropout.ipynb", (("keep-prob", "keep_prob", 0),)),
         ("04_batchnorm.ipynb", (("lr", "learning rate", 0), ("dashboard-04", "learning rate", 1))),
         ("01_activations.ipynb", (("dead-relu", "learning rate", 0),)),
         ("02_preprocessing.ipynb", (("preprocessing", "input offset", 0),)),
         ("05_why_batchnorm_works.ipynb", (("landscape", "probe η_max", 0),)),
         ("07_beyond_batchnorm.ipynb", (("batch-groups", "GN groups G", 0),)),
         ("00_welcome.ipynb", (("init-welcome", "scale", 0),))]
"""Every explorer of every lesson, as (lesson, ((explorer, slider label, which of the sliders
so labelled), ...)), in the order they appear: the explorer's name is its grid's
(:data:`trainlab.explorers.spec.SPECS`) where the slider moves along its stored grid (every
value of that control is stored, at the lesson's other values), else a name of its own: the
init-training explorer's learning rate (stored too: :data:`GRID_OF`) and the training
dashboards (03, 04: no grid, they train live). 03 holds the init explorer, the init-training
explorer and a dashboard; 04 the learning-rate explorer and a dashboard; 01 the dead-ReLU
explorer; 00 the welcome's init explorer."""

GRID_OF = {"init-training-lr": "init-training"}
"""Explorers timed under a name of their own whose slider moves along a stored grid."""


def grid_of(explorer: str) -> str | None:
    """The stored grid the timed slider of ``explorer`` is served from, or None."""
    from trainlab.explorers.spec import SPECS

    name = GRID_OF.get(explorer, explorer)
    return name if name in {s.name for s in SPECS} else None


PRESSES = 4
"""Keypresses (left arrow) timed per explorer right after Run All (a live explorer's run is
cancelled by the next press; the first new image counts). Every slider above has at least 4
values left of the lesson's (keep_prob 0.5 -> 0.3, GN groups 10 -> 1): a press at a slider's
end changes nothing and would wait out the 120 s timeout."""


def _settled_src(image, before: str | None, timeout_s: float) -> str | None:
    """The explorer's <img> src once its run has finished: a live explorer first shows its
    previous figure with "training…" (the same src as ``before``), so the final figure is
    read only when the output no longer says "training"."""
    output = image.locator("xpath=ancestor::div[contains(@class, 'widget-output')][1]")
    deadline = time.monotonic() + timeout_s
    src = image.get_attribute("src")
    while time.monotonic() < deadline:
        src = image.get_attribute("src")
        if src != before and "training" not in output.inner_text():
            break
        time.sleep(0.1)
    return src


_WATCH_JS = """(out) => {
  const img = out.querySelector('img');
  const st = {prev: img ? img.src : null, down: null, inserted: null, shown: null};
  window.__trainlabLatency = st;
  document.addEventListener('keydown', (e) => { if (st.down === null) st.down = e.timeStamp; },
                            {capture: true, once: true});
  const seen = new MutationObserver(() => {
    const now = out.querySelector('img');
    if (!now || now.src === st.prev || st.inserted !== null) return;
    st.inserted = performance.now();
    seen.disconnect();
    now.decode().catch(() => null).then(
      () => requestAnimationFrame(() => { st.shown = performance.now(); }));
  });
  seen.observe(out, {childList: true, subtree: true, attributes: true, attributeFilter: ['src']});
}"""
"""Armed before a keypress, in the page: records the keydown event's time stamp (when the key
reached the page), when the explorer's output first holds an <img> with a new src (a live
explorer's "training…" status keeps the old image, so its first partial curves count), and the
animation frame after that image has been decoded: the new figure on screen."""

_IDLE_JS = """() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(
  () => requestIdleCallback(() => done(), {timeout: 2000}))))"""
"""Resolves once the page has painted twice and is idle (at most 2 s): what a scroll or a focus
change just asked of the browser is done before a key is pressed."""


def _press_latencies(page, image, key: str, presses: int) -> list[float]:
    """Seconds from each of ``presses`` presses of ``key`` to the explorer's next new figure,
    measured inside the page (:data:`_WATCH_JS`: keydown time stamp to the animation frame
    after the new image is decoded, the frame that paints it), so the harness's own polling
    adds nothing."""
    output = image.locator("xpath=ancestor::div[contains(@class, 'widget-output')][1]")
    handle = output.element_handle()
    latencies = []
    for _ in range(presses):
        page.evaluate(_IDLE_JS)
        page.evaluate(_WATCH_JS, handle)
        page.keyboard.press(key)
        page.wait_for_function("window.__trainlabLatency.shown !== null", polling="raf",
                               timeout=120_000)
        st = page.evaluate("window.__trainlabLatency")
        latencies.append((st["shown"] - st["down"]) / 1e3)
        time.sleep(0.3)
    return latencies


def latency_summary(latencies: list[float]) -> dict:
    """Latencies (s) as sorted milliseconds with their p50 (the middle sample) and max."""
    ms = sorted(1e3 * t for t in latencies)
    return {"latencies_ms": ms, "p50_ms": ms[len(ms) // 2], "max_ms": ms[-1]}


def _record_latency(explorer: str, lesson: str, control: str,
                    phases: dict[str, list[float]]) -> dict:
    """Keypress-to-new-figure latencies (s) by phase into
    test-artifacts/latency-<explorer>.json and the test log: a measurement for the report, not
    a pass/fail criterion (timings vary by machine load)."""
    import json

    summary: dict = {"explorer": explorer, "lesson": lesson, "control": control,
                     "served_from_grid": grid_of(explorer) is not None}
    for phase, latencies in phases.items():
        summary[phase] = latency_summary(latencies)
        print(f"keypress to new figure, {explorer} ({lesson}) / {control}, {phase}: p50 "
              f"{summary[phase]['p50_ms']:.0f} ms, max {summary[phase]['max_ms']:.0f} ms "
              f"({', '.join(f'{t:.0f}' for t in summary[phase]['latencies_ms'])} ms)")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"latency-{explorer}.json").write_text(json.dumps(summary, indent=1))
    return summary


WARM_AFTER_S = {"init": 25.0}
"""Explorers that do background work after their first draw (the init explorer: the scale
grid, then every scale's figure, about 15 s on a 2-core machine): the test also times
presses made this long after the first ones, the latency a lecturer sees after talking over
the first figure."""


def open_and_run_all(browser, lab: dict, notebook: str):
    """A new page with ``notebook`` opened in ``lab`` and every cell run (Run All Cells)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{lab['base']}/lab/tree/{notebook}?reset&token={lab['token']}")
    _run_all(page)
    news = page.get_by_role("button", name="No", exact=True)
    if news.count():
        news.first.click()
    return page


@pytest.mark.parametrize("notebook, sliders", CASES)
def test_slider_moved_with_keyboard_redraws_the_plot(lab, browser, notebook, sliders):
    if not (lab["root"] / notebook).exists():
        pytest.fail(f"notebooks/{notebook} is missing")
    ARTIFACTS.mkdir(exist_ok=True)
    page = open_and_run_all(browser, lab, notebook)
    stem = Path(notebook).stem
    for explorer, slider_label, nth in sliders:
        _move_and_check(page, stem, explorer, slider_label, nth)
    _assert_no_errors(page)
    assert page.locator(".widget-output", has_text="error:").count() == 0
    page.close()


def press_and_time(page, slider_label: str, nth: int, presses: int = PRESSES,
                   key: str = "ArrowLeft"):
    """Focus the ``nth`` slider labelled ``slider_label`` and time ``presses`` presses of
    ``key`` to the explorer's next new image; returns (latencies in s, the image, its src
    before the first press)."""
    slider, image = _explorer_image(page, slider_label, nth)
    image.wait_for(timeout=120_000)
    image.scroll_into_view_if_needed()
    before = image.get_attribute("src")
    slider.locator(".noUi-handle").first.focus()
    return _press_latencies(page, image, key, presses), image, before


def _move_and_check(page, stem: str, explorer: str, slider_label: str, nth: int) -> None:
    """Press the slider's left arrow :data:`PRESSES` times, record the latencies, and check
    that the explorer's figure changed once its run settled."""
    page.screenshot(path=str(ARTIFACTS / f"{explorer}-before.png"))
    latencies, image, before = press_and_time(page, slider_label, nth)
    phases = {"right after Run All": latencies}
    if explorer in WARM_AFTER_S:
        time.sleep(WARM_AFTER_S[explorer])
        phases[f"{WARM_AFTER_S[explorer]:.0f} s later"] = _press_latencies(page, image,
                                                                          "ArrowRight", 5)
    _record_latency(explorer, stem, slider_label, phases)
    after = _settled_src(image, before, timeout_s=180)
    page.screenshot(path=str(ARTIFACTS / f"{explorer}-after.png"))
    assert after != before, f"the plot of {explorer} did not change after moving {slider_label}"


def test_slide_deck_renders_in_chromium(browser, tmp_path):
    """`make slides` output: the welcome deck opens as a reveal.js presentation."""
    import http.server
    import threading

    sys.path.insert(0, str(ROOT / "scripts"))
    import slides

    deck = slides.build([ROOT / "notebooks" / "00_welcome.ipynb"])[0]
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(deck.parent), **k)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"http://127.0.0.1:{server.server_port}/{deck.name}")
        page.wait_for_selector(".reveal.ready", timeout=30_000)
        n_slides = page.locator(".reveal .slides > section").count()
        assert n_slides >= 5, n_slides
        assert "Welcome to trainlab" in page.locator(".reveal .slides").inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "00_welcome-slides.png"))
        first = page.locator(".reveal .slides > section.present").inner_text()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "document.querySelector('.reveal .slides > section.present') !== "
            "document.querySelector('.reveal .slides > section')", timeout=10_000)
        assert page.locator(".reveal .slides > section.present").inner_text() != first
        page.close()
    finally:
        server.shutdown()
