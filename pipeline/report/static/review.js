// cleanup-verify: the little JavaScript of the report and the review app.
// 1. overlay opacity sliders; 2. on the review app's entry page, correcting detections: click a box to
//    toggle "not litter", drag on the photo to box missed litter (coordinates sent in full-size pixels);
// 3. keyboard shortcuts of the review app (listed on its pages, #shortcuts): n/p next/previous entry in
//    ranking order, u next entry not yet reviewed, a accept (saved at once), o override (score field),
//    d disqualify (reason field), Ctrl+Enter save, Esc leave a field. Keys typed into a field are left alone.
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

  var shortcuts = document.getElementById("shortcuts");
  if (shortcuts) {
    var form = document.querySelector("#decide form");
    var go = function (id) {  // a link of the page, or (ranking page) the legend's data-<id> address
      var a = document.getElementById(id);
      var href = a ? a.href : shortcuts.getAttribute("data-" + id);
      if (href) window.location.assign(href);
    };
    var choose = function (value, focus) {
      if (!form) return;
      var radio = form.querySelector('input[name="decision"][value="' + value + '"]');
      if (!radio) return;
      radio.checked = true;
      radio.scrollIntoView({ block: "center" });
      var field = focus && form.querySelector(focus);
      if (field) field.focus(); else if (!focus) form.requestSubmit();
    };
    document.addEventListener("keydown", function (ev) {
      var t = ev.target;
      var typing = t && (t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable ||
                         (t.tagName === "INPUT" && t.type !== "radio" && t.type !== "checkbox"));
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && form && form.contains(t)) {
        ev.preventDefault();
        form.requestSubmit();
        return;
      }
      if (typing) {
        if (ev.key === "Escape") t.blur();
        return;
      }
      if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
      var act = {
        n: function () { go("nav-next"); },
        p: function () { go("nav-prev"); },
        u: function () { go("nav-next-unreviewed"); },
        a: function () { choose("accept", null); },
        o: function () { choose("override", 'input[name="score_override"]'); },
        d: function () { choose("disqualify", 'textarea[name="reason"]'); }
      }[ev.key];
      if (act) {
        ev.preventDefault();
        act();
      }
    });
  }
})();
