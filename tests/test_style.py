"""trainlab.style: the screen and lecture styles, plain-decimal numbers, explorer sizes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from trainlab import style  # noqa: E402


@pytest.fixture(autouse=True)
def _restore_style():
    saved = mpl.rcParams.copy()
    yield
    style.use("screen")
    mpl.rcParams.update(saved)


@pytest.mark.parametrize(("x", "text"), [
    (0.01, "0.01"), (1e-2, "0.01"), (2.4213, "2.42"), (1500, "1500"), (1.0, "1"),
    (100, "100"), (0.000123456, "0.000123"), (1e-5, "0.00001"), (-0.5, "-0.5"), (0, "0"),
    (999.6, "1000"), (7e34, "7e34"), (1.5e-7, "1.5e-7"), (123456789, "1.23e8"),
    (float("inf"), "inf"), (float("-inf"), "-inf"), (float("nan"), "nan"),
])
def test_format_value_plain_decimals(x, text):
    assert style.format_value(x) == text


def test_format_value_never_has_spaces_or_plus():
    for k in range(-40, 41, 3):
        text = style.format_value(3.7 * 10.0 ** k)
        assert " " not in text and "+" not in text and "×" not in text


@pytest.mark.parametrize("digits", [0, 16, 2.5, True])
def test_format_value_rejects_bad_digits(digits):
    with pytest.raises(ValueError, match="digits"):
        style.format_value(1.0, digits)


@pytest.mark.parametrize("name", ["screen", "lecture"])
def test_styles_are_legible(name):
    s = style.use(name)
    assert s is style.current() and s.name == name
    assert mpl.rcParams["figure.dpi"] >= 100 and mpl.rcParams["savefig.dpi"] >= 100
    for key in ("font.size", "xtick.labelsize", "ytick.labelsize", "legend.fontsize",
                "axes.labelsize", "axes.titlesize", "figure.titlesize"):
        assert float(mpl.rcParams[key]) >= 11, key
    assert style.text_size() >= 11
    width, height = style.explorer_figsize()
    assert width * style.explorer_dpi() >= 900
    assert width * style.explorer_dpi() <= 1400
    assert 0 < height < width


def test_lecture_is_larger_than_screen():
    screen, lecture = style.STYLES["screen"], style.STYLES["lecture"]
    assert lecture.dpi > screen.dpi and lecture.text > screen.text
    assert lecture.explorer_width_px > screen.explorer_width_px


def test_env_var_switches_style(monkeypatch):
    monkeypatch.setenv(style.STYLE_ENV, "lecture")
    style.apply_style()
    assert style.current().name == "lecture"
    assert mpl.rcParams["font.size"] == style.STYLES["lecture"].text
    monkeypatch.delenv(style.STYLE_ENV)
    style.apply_style()
    assert style.current().name == "screen"


def test_unknown_style_names_the_valid_ones(monkeypatch):
    with pytest.raises(ValueError, match="lecture"):
        style.use("poster")
    monkeypatch.setenv(style.STYLE_ENV, "poster")
    with pytest.raises(ValueError, match="screen"):
        style.apply_style()


@pytest.mark.parametrize(("kind", "bad"), [("text", "tiny"), ("title", None)])
def test_text_size_kinds(kind, bad):
    assert style.text_size(kind) >= 11
    with pytest.raises(ValueError, match="kind"):
        style.text_size(bad)


def _tick_labels(ax, axis="y"):
    fig = ax.figure
    fig.canvas.draw()
    getter = ax.get_yticklabels if axis == "y" else ax.get_xticklabels
    labels = [t.get_text() for t in getter(which="both")]
    plt.close(fig)
    return [t for t in labels if t]


@pytest.mark.parametrize(("lo", "hi"), [(1.5, 4.0), (1e-3, 1e2), (0.2, 0.9)])
def test_log_axes_print_plain_decimals(lo, hi):
    style.use("screen")
    fig, ax = plt.subplots()
    ax.semilogy([0, 1], [lo, hi])
    ax.set_ylim(lo, hi)
    labels = _tick_labels(ax)
    assert labels, "no tick labels drawn"
    for text in labels:
        assert "times" not in text and "^" not in text and "×" not in text, labels
        float(text.replace("−", "-"))


@pytest.mark.parametrize(("lo", "hi"), [(2.295, 2.312), (2.29, 2.49)])
def test_narrow_log_axes_label_every_tick_with_its_own_value(lo, hi):
    """A loss stuck near ln 10 spans a few percent: its minor ticks (2.2975, 2.3, 2.3025)
    must not all read 2.3, nor 2.325 read 2.32."""
    style.use("screen")
    fig, ax = plt.subplots()
    ax.semilogy([0, 1], [lo, hi])
    ax.set_ylim(lo, hi)
    fig.canvas.draw()
    shown = [(t.get_text(), t.get_position()[1]) for t in
             ax.yaxis.get_majorticklabels() + ax.yaxis.get_minorticklabels()
             if t.get_text() and lo <= t.get_position()[1] <= hi]
    plt.close(fig)
    assert len(shown) >= 3, shown
    texts = [text for text, _ in shown]
    assert len(set(texts)) == len(texts), texts
    for text, value in shown:
        assert float(text) == pytest.approx(value, rel=1e-9), shown


def test_plain_ticks_on_an_axis_made_before_the_style():
    fig, ax = plt.subplots()
    ax.set_xscale("log", base=2)
    ax.set_xlim(0.25, 64)
    style.plain_ticks(ax, "x")
    labels = _tick_labels(ax, "x")
    assert "0.25" in labels and "64" in labels
    with pytest.raises(ValueError, match="which"):
        style.plain_ticks(ax, "z")


def test_explorer_figsize_rejects_bad_ratio():
    with pytest.raises(ValueError, match="height_ratio"):
        style.explorer_figsize(5)
