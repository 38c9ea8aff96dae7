// cleanup-verify: the little JavaScript of the report and the review app.
// 1. overlay opacity sliders; 2. on the review app's entry page, correcting detections: click a box to
//    toggle "not litter", drag on the photo to box missed litter (coordinates sent in full-size pixels).
(function () {
  "use strict";
  document.querySelectorAll(".overlay-wrap").forEach(function (wrap) {
    var range = wrap.querySelector("input.opacity");
    var warped = wrap.querySelector("img.warped");
    if (!range || !warped) return;
    var apply = function () { warped.style.opacity = String(Number(range.value) / 100); };
    range.addEventListener("input", apply);
    apply();
  });

  document.querySelectorAll(".frame.drawable").forEach(function (frame) {
    var form = document.getElementById(frame.getAttribute("data-form"));
    var fullW = Number(frame.getAttribute("data-fullw"));
    var fullH = Number(frame.getAttribute("data-fullh"));
    if (!form || !fullW || !fullH) return;
    var holder = form.querySelector(".newboxes");
    frame.querySelectorAll(".box[data-index]").forEach(function (box) {
      box.addEventListener("click", function (ev) {
        ev.stopPropagation();
        var cb = form.querySelector('input[name="not_litter"][data-index="' + box.getAttribute("data-index") + '"]');
        if (!cb) return;
        cb.checked = !cb.checked;
        box.classList.toggle("box-not_litter", cb.checked);
      });
    });
    var start = null, ghost = null;
    var pos = function (ev) {
      var r = frame.getBoundingClientRect();
      return { x: Math.min(Math.max(ev.clientX - r.left, 0), r.width) / r.width,
               y: Math.min(Math.max(ev.clientY - r.top, 0), r.height) / r.height };
    };
    var place = function (el, a, b) {
      el.style.left = (100 * Math.min(a.x, b.x)) + "%";
      el.style.top = (100 * Math.min(a.y, b.y)) + "%";
      el.style.width = (100 * Math.abs(b.x - a.x)) + "%";
      el.style.height = (100 * Math.abs(b.y - a.y)) + "%";
    };
    frame.addEventListener("mousedown", function (ev) {
      if (ev.button !== 0 || ev.target.classList.contains("box")) return;
      ev.preventDefault();
      start = pos(ev);
      ghost = document.createElement("div");
      ghost.className = "box box-new";
      frame.appendChild(ghost);
      place(ghost, start, start);
    });
    window.addEventListener("mousemove", function (ev) { if (start) place(ghost, start, pos(ev)); });
    window.addEventListener("mouseup", function (ev) {
      if (!start) return;
      var end = pos(ev), a = start;
      start = null;
      var x1 = Math.min(a.x, end.x) * fullW, x2 = Math.max(a.x, end.x) * fullW;
      var y1 = Math.min(a.y, end.y) * fullH, y2 = Math.max(a.y, end.y) * fullH;
      if (x2 - x1 < 4 || y2 - y1 < 4) { ghost.remove(); return; }
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "missed";
      input.value = [x1, y1, x2, y2].map(function (v) { return v.toFixed(1); }).join(",");
      holder.appendChild(input);
    });
  });
})();
