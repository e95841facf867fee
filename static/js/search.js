// The header's search box (templates/base.html): its results close on Escape or a tap elsewhere, and
// come back when the box is focused again. The results themselves come from the server (htmx).
(function () {
  "use strict";
  const input = document.getElementById("header-search-input");
  const results = document.getElementById("header-search-results");
  if (!input || !results) {
    return;
  }
  function close() {
    results.replaceChildren();
  }
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && results.childElementCount) {
      close();
      input.focus();
    }
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest(".header-search")) {
      close();
    }
  });
  input.addEventListener("focus", function () {
    if (input.value.trim().length >= 2 && !results.childElementCount && window.htmx) {
      window.htmx.trigger(input, "search");
    }
  });
})();
