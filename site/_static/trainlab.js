/* Size each embedded explorer to its content when the viewer lets us read it (same origin
   over http); from file:// the iframe keeps its stated height. */
function trainlabFitFrame(frame) {
  try {
    var doc = frame.contentDocument;
    if (doc && doc.body) {  /* the content's height, not the frame's own (scrollHeight) */
      frame.style.height = Math.ceil(doc.body.getBoundingClientRect().bottom + 16) + "px";
    }
  } catch (e) { /* cross-origin (file://): keep the height attribute */ }
}
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll(".trainlab-explorer iframe").forEach(function (frame) {
    frame.addEventListener("load", function () { trainlabFitFrame(frame); });
    if (frame.contentDocument && frame.contentDocument.readyState === "complete") {
      trainlabFitFrame(frame);
    }
  });
});

/* A box that scrolls sideways (a wide table, a long formula or output line) must be reachable
   by keyboard: give it a tab stop once its width is known (after MathJax has typeset). */
function trainlabScrollables() {
  var boxes = document.querySelectorAll(
    ".bd-article table, .bd-article pre, .bd-article mjx-container, .bd-article .output");
  boxes.forEach(function (el) {
    if (el.scrollWidth > el.clientWidth + 1 && !el.hasAttribute("tabindex")) {
      el.setAttribute("tabindex", "0");
    }
  });
}
window.addEventListener("load", function () {
  trainlabScrollables();
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(trainlabScrollables);
  }
});
window.addEventListener("resize", trainlabScrollables);
