// syndicate portal: the larger-type and high-contrast toggles (remembered per browser).
(function () {
  "use strict";
  var root = document.documentElement;
  function stored(name) {
    try { return window.localStorage.getItem("syndicate-" + name) === "1"; } catch (e) { return false; }
  }
  function store(name, on) {
    try { window.localStorage.setItem("syndicate-" + name, on ? "1" : "0"); } catch (e) { /* private mode */ }
  }
  var buttons = document.querySelectorAll("button[data-toggle]");
  Array.prototype.forEach.call(buttons, function (button) {
    var name = button.getAttribute("data-toggle");
    function show(on) {
      root.classList.toggle(name, on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
    }
    show(stored(name));
    button.addEventListener("click", function () {
      var on = !root.classList.contains(name);
      show(on);
      store(name, on);
    });
  });
}());
