"""A kernel-free viewer per explorer: ``python -m trainlab.explorers export OUTDIR``.

For every explorer with a stored grid (:mod:`trainlab.explorers.spec`) this writes

* ``OUTDIR/<name>/index.html``: the page -- inline CSS and JS, no CDN, no network; its
  controls (a range input per slider, a ``<select>`` per dropdown or checkbox, each with a
  ``<label>``, operable with the keyboard) offer exactly the stored states;
* ``OUTDIR/<name>/data.js``: the controls, each state's status line and image file, loaded by
  a relative ``<script src>`` (works from ``file://``, where ``fetch`` of a sibling does not);
* ``OUTDIR/<name>/states/NNNN.png``: each state's figure, drawn by the explorer's own
  ``render`` from the stored result (so it is the live explorer's figure, course style and
  Okabe-Ito palette), as a 256-colour PNG;
* ``OUTDIR/index.json``: ``[{name, lesson, title, path, states, bytes}, ...]``.

Why images and not JS plots of the numbers: the nine figures are matplotlib figures with
hand-made layouts (histogram rows, log axes, contour surfaces, error bands); redrawing them in JS
would be a second implementation that can drift from ``render``. Pre-rendered, each state is one
image of 13-40 kB, and the sub-grids are sized so that a lesson's pages stay under 10 MB.
"""

from __future__ import annotations

import html
import io
import json
import shutil
from pathlib import Path
from typing import Any

from trainlab.explorers import spec as S
from trainlab.explorers.core import render_png

PAGE_LIMIT_BYTES = 10_000_000
"""The most one lesson's viewers may weigh together."""


def _png256(png: bytes) -> bytes:
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB").quantize(256)
    buf = io.BytesIO()
    img.save(buf, format="png", optimize=True)
    return buf.getvalue()


def _value_text(v: Any) -> str:
    from trainlab.explorers.core import fmt

    if isinstance(v, bool):
        return "on" if v else "off"
    return fmt(v)


def export_one(s: S.ExplorerSpec, outdir: Path, grid: S.Grid | None = None) -> dict[str, Any]:
    """Write ``outdir/<name>/`` for explorer ``s`` from its stored grid; its index entry."""
    grid = grid or S.load(s.name)
    explorer = s.build(quiet=True)
    controls = grid.doc["controls"]
    shown = (grid.states() if s.web is None else
             [st for st in s.states(s.controls(explorer), s.web) if grid.get(st) is not None])
    grid_values = [[v for v in map(S.decode, c["grid"])
                    if any(S.state_key({c["name"]: v}) == S.state_key({c["name"]: st[c["name"]]})
                           for st in shown)] for c in controls]
    index = [{S.state_key({c["name"]: v}): i for i, v in enumerate(vals)}
             for c, vals in zip(controls, grid_values, strict=True)]
    page = outdir / s.name
    if page.exists():
        shutil.rmtree(page)
    (page / "states").mkdir(parents=True)
    states: dict[str, list[str]] = {}
    for n, state in enumerate(shown):
        result = grid.get(state)
        assert result is not None
        fig = explorer.render(result)
        image = f"states/{n:04d}.png"
        (page / image).write_bytes(_png256(render_png(fig)))
        key = ",".join(str(index[i][S.state_key({c["name"]: state[c["name"]]})])
                       for i, c in enumerate(controls))
        from trainlab.explorers.core import _status_line

        states[key] = [image, _status_line(result)]
    default = []
    for c, vals in zip(controls, grid_values, strict=True):
        want = S.state_key({c["name"]: S.decode(c["default"])})
        keys = [S.state_key({c["name"]: v}) for v in vals]
        default.append(keys.index(want) if want in keys else 0)
    data = {"name": s.name, "lesson": s.lesson, "title": s.title,
            "grid_note": s.web_why if s.web is not None else s.why,
            "controls": [{"name": c["name"], "label": c["label"], "kind": c["kind"],
                          "values": [_value_text(v) for v in vals]}
                         for c, vals in zip(controls, grid_values, strict=True)],
            "default": default, "states": states}
    (page / "data.js").write_text("window.TRAINLAB_EXPLORER = "
                                  + json.dumps(data, separators=(",", ":")) + ";\n")
    (page / "index.html").write_text(_PAGE.replace("__TITLE__", html.escape(s.title))
                                     .replace("__LESSON__", html.escape(s.lesson)))
    size = sum(p.stat().st_size for p in page.rglob("*") if p.is_file())
    return {"name": s.name, "lesson": s.lesson, "title": s.title,
            "path": f"{s.name}/index.html", "states": len(states), "bytes": size}


def export(outdir: Path, names: list[str] | None = None) -> list[dict[str, Any]]:
    """Export every explorer (or ``names``) and write ``outdir/index.json``; refuses a lesson
    whose pages weigh more than :data:`PAGE_LIMIT_BYTES`."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    entries = []
    for name in names or [s.name for s in S.SPECS]:
        entry = export_one(S.spec(name), outdir)
        print(f"{name}: {entry['states']} states, {entry['bytes'] / 1e6:.2f} MB")
        entries.append(entry)
    by_lesson: dict[str, int] = {}
    for e in entries:
        by_lesson[e["lesson"]] = by_lesson.get(e["lesson"], 0) + e["bytes"]
    heavy = {k: v for k, v in by_lesson.items() if v > PAGE_LIMIT_BYTES}
    if heavy:
        raise ValueError(f"lesson pages over {PAGE_LIMIT_BYTES} bytes: {heavy}")
    (outdir / "index.json").write_text(json.dumps(entries, indent=1) + "\n")
    return entries


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__ (lesson __LESSON__)</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 1rem; color: #111; background: #fff; }
 h1 { font-size: 1.2rem; margin: 0 0 .5rem; }
 #controls { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; margin-bottom: .5rem; }
 .control { display: flex; align-items: center; gap: .4rem; }
 .control output, .fixed { font-family: monospace; min-width: 4.5em; }
 input[type=range] { width: 12rem; }
 :focus-visible { outline: 3px solid #0072B2; outline-offset: 2px; }
 #figure { max-width: 100%; height: auto; display: block; }
 #figure[hidden] { display: none; }
 #status { font-family: monospace; margin-top: .3rem; overflow-wrap: anywhere; }
 .note { color: #555; font-size: .85rem; }
</style>
</head>
<body>
<h1>__TITLE__</h1>
<div id="controls" role="group" aria-label="explorer controls"></div>
<img id="figure" alt="">
<div id="status" role="status" aria-live="polite"></div>
<p class="note" id="note"></p>
<script src="data.js"></script>
<script>
(function () {
  "use strict";
  var D = window.TRAINLAB_EXPLORER, box = document.getElementById("controls");
  var pos = D.default.slice(), inputs = [];
  function show() {
    var key = pos.join(","), st = D.states[key];
    var img = document.getElementById("figure");
    img.setAttribute("data-state", key);
    if (!st) {
      var off = [];
      D.controls.forEach(function (c, i) { if (pos[i] !== D.default[i]) { off.push(i); } });
      var here = off.map(function (i) {
        return D.controls[i].label + " " + D.controls[i].values[pos[i]]; }).join(" with ");
      var back = off.map(function (i) {
        return D.controls[i].label + " to " + D.controls[i].values[D.default[i]]; }).join(" or ");
      img.hidden = true;
      document.getElementById("status").textContent = here + " is not in this viewer (it holds "
        + D.grid_note + "): set " + back + ", the lesson's value";
      return;
    }
    img.hidden = false;
    img.src = st[0];
    img.alt = D.title + ": " + D.controls.map(function (c, i) {
      return c.label + " " + c.values[pos[i]]; }).join(", ");
    document.getElementById("status").textContent = st[1];
  }
  D.controls.forEach(function (c, i) {
    var wrap = document.createElement("div"), id = "ctl-" + c.name;
    wrap.className = "control";
    var label = document.createElement("label");
    label.htmlFor = id; label.textContent = c.label;
    wrap.appendChild(label);
    if (c.values.length < 2) {
      var fixed = document.createElement("span");
      fixed.id = id; fixed.className = "fixed"; fixed.textContent = c.values[0];
      fixed.title = "fixed in this viewer";
      wrap.appendChild(fixed);
    } else if (c.kind === "slider") {
      var r = document.createElement("input"), out = document.createElement("output");
      r.type = "range"; r.id = id; r.min = 0; r.max = c.values.length - 1; r.step = 1;
      r.value = pos[i]; r.setAttribute("aria-valuetext", c.values[pos[i]]);
      out.htmlFor = id; out.textContent = c.values[pos[i]];
      r.addEventListener("input", function () {
        pos[i] = +r.value; out.textContent = c.values[pos[i]];
        r.setAttribute("aria-valuetext", c.values[pos[i]]); show();
      });
      wrap.appendChild(r); wrap.appendChild(out); inputs.push(r);
    } else {
      var s = document.createElement("select");
      s.id = id;
      c.values.forEach(function (v, j) {
        var o = document.createElement("option"); o.value = j; o.textContent = v;
        s.appendChild(o);
      });
      s.value = pos[i];
      s.addEventListener("change", function () { pos[i] = +s.value; show(); });
      wrap.appendChild(s); inputs.push(s);
    }
    box.appendChild(wrap);
  });
  document.getElementById("note").textContent = "Lesson " + D.lesson + ". Precomputed states: "
    + Object.keys(D.states).length + " (" + D.grid_note + ").";
  show();
})();
</script>
</body>
</html>
"""
