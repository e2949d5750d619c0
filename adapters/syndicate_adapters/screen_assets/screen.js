/* syndicate screen: one item a page, in a loop, on the screen's own clock. No network:
   the only file it ever asks for is bundle.js, next to it, to learn of a new bundle. */
(function () {
  "use strict";

  var body = document.body;
  var seconds = Number(body.getAttribute("data-seconds")) || 15;
  var bundle = body.getAttribute("data-bundle");
  var slides = Array.prototype.slice.call(document.querySelectorAll(".slide[data-item]"));
  var empty = document.getElementById("empty");
  var counter = document.getElementById("counter");
  var clock = document.getElementById("clock");
  var bar = document.getElementById("progress");
  var WEEKDAYS = "日一二三四五六";
  var current = null;
  var shownAt = Date.now();

  /* Beijing time from the screen's own clock. */
  function beijing() { return new Date(Date.now() + 8 * 3600 * 1000); }
  function today() { return beijing().toISOString().slice(0, 10); }
  function pad(n) { return (n < 10 ? "0" : "") + n; }

  /* Shown on `day`: a 公示 only within its window, nothing after its last valid day. */
  function onShow(slide, day) {
    var start = slide.getAttribute("data-notice-start");
    var end = slide.getAttribute("data-notice-end");
    var until = slide.getAttribute("data-valid-until");
    return !(start && day < start) && !(end && day > end) && !(until && day > until);
  }

  function visible() {
    var day = today();
    return slides.filter(function (slide) { return onShow(slide, day); });
  }

  /* Days of the window still to run, today included. */
  function daysLeft(slide) {
    var out = slide.querySelector(".left");
    if (!out) { return; }
    var end = Date.parse(slide.getAttribute("data-notice-end"));
    var n = Math.round((end - Date.parse(today())) / 86400000) + 1;
    out.textContent = n <= 1 ? "今天是公示期最后一天" : "公示期还剩 " + n + " 天";
  }

  /* A summary longer than its box loses whole paragraphs, then characters, and ends
     with "……": the page never scrolls, no line is cut in half, no heading is left
     heading nothing. Fitted each time the slide is shown, from the full text: the
     days left or the clock may take another line, the window may have been resized. */
  var fullText = [];
  function fit(slide) {
    var box = slide.querySelector(".summary");
    if (!box) { return; }
    var index = slides.indexOf(slide);
    if (fullText[index] === undefined) {
      fullText[index] = Array.prototype.map.call(box.children, function (p) { return p.cloneNode(true); });
    }
    while (box.firstChild) { box.removeChild(box.firstChild); }
    fullText[index].forEach(function (p) { box.appendChild(p.cloneNode(true)); });

    var bottom = box.getBoundingClientRect().bottom + 0.5;
    function lastOne() { return box.lastElementChild; }
    function over() { return !!lastOne() && lastOne().getBoundingClientRect().bottom > bottom; }
    while (lastOne() && lastOne().getBoundingClientRect().top >= bottom - 1) { box.removeChild(lastOne()); }
    if (over()) {
      var last = lastOne();
      var text = last.textContent;
      var low = 0;
      var high = last.classList.contains("heading") ? 0 : text.length;
      while (low < high) {
        var middle = Math.ceil((low + high) / 2);
        last.textContent = text.slice(0, middle) + "……";
        if (over()) { high = middle - 1; } else { low = middle; }
      }
      if (low > 0) { last.textContent = text.slice(0, low) + "……"; } else { box.removeChild(last); }
    }
    while (lastOne() && lastOne().classList.contains("heading")) { box.removeChild(lastOne()); }
  }

  function showClock() {
    var now = beijing();
    clock.textContent = now.getUTCFullYear() + "年" + (now.getUTCMonth() + 1) + "月" +
      now.getUTCDate() + "日 星期" + WEEKDAYS.charAt(now.getUTCDay()) + " " +
      pad(now.getUTCHours()) + ":" + pad(now.getUTCMinutes());
  }

  function show(slide, list) {
    slides.forEach(function (other) { other.hidden = other !== slide; });
    empty.hidden = slide !== null;
    current = slide;
    shownAt = Date.now();
    showClock();
    if (slide) {
      daysLeft(slide);
      fit(slide);
      counter.textContent = (list.indexOf(slide) + 1) + " / " + list.length;
      body.setAttribute("data-current", slide.getAttribute("data-item"));
    } else {
      counter.textContent = "0 / 0";
      body.setAttribute("data-current", "");
    }
    bar.style.width = "0";
  }

  /* A new bundle in the folder: bundle.js (written last) names it. */
  window.screenBundle = function (latest) {
    if (typeof latest === "string" && latest && latest !== bundle) { location.reload(); }
  };

  function checkForUpdate() {
    var script = document.createElement("script");
    script.src = "bundle.js?t=" + Date.now();
    script.onload = script.onerror = function () {
      if (script.parentNode) { script.parentNode.removeChild(script); }
    };
    document.head.appendChild(script);
  }

  function next() {
    var list = visible();
    var following = null;
    var from = current ? slides.indexOf(current) : -1;
    for (var i = 0; i < list.length && following === null; i += 1) {
      if (slides.indexOf(list[i]) > from) { following = list[i]; }
    }
    if (following === null) {
      /* The loop starts again: first see whether a new bundle is there. */
      checkForUpdate();
      following = list.length ? list[0] : null;
    }
    show(following, list);
  }

  function tick() {
    var elapsed = Date.now() - shownAt;
    if (elapsed >= seconds * 1000) {
      next();
      return;
    }
    bar.style.width = Math.min(100, elapsed / (seconds * 10)) + "%";
    showClock();
  }

  /* A browser started in kiosk mode may open small and then fill the screen. */
  window.addEventListener("resize", function () { if (current) { fit(current); } });

  var first = visible();
  show(first.length ? first[0] : null, first);
  window.setInterval(tick, 1000);
}());
