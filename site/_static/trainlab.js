/* Size each embedded explorer to its content when the viewer lets us read it (same origin
   over http); from file:// the iframe keeps its stated height. */
function trainlabFitFrame(frame) {
  try {
    var doc = frame.contentDocument;
    if (doc && doc.documentElement) {
      frame.style.height = (doc.documentElement.scrollHeight + 4) + "px";
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
