// The deal board: drag a card onto another column to move the deal there. The server checks the
// stage's exit criteria; a refused move comes back as a notice (422) and the card stays put.
(function () {
  "use strict";
  function columnOf(element) {
    return element && element.closest("[data-stage]");
  }

  document.addEventListener("dragstart", function (event) {
    const card = event.target.closest && event.target.closest("[data-deal-url]");
    if (!card) return;
    event.dataTransfer.setData("text/plain", card.dataset.dealUrl);
    event.dataTransfer.effectAllowed = "move";
    card.classList.add("dragging");
  });

  document.addEventListener("dragend", function (event) {
    const card = event.target.closest && event.target.closest("[data-deal-url]");
    if (card) card.classList.remove("dragging");
  });

  document.addEventListener("dragover", function (event) {
    const column = columnOf(event.target);
    if (!column) return;
    event.preventDefault();
    column.classList.add("drop-target");
  });

  document.addEventListener("dragleave", function (event) {
    const column = columnOf(event.target);
    if (column && !column.contains(event.relatedTarget)) column.classList.remove("drop-target");
  });

  document.addEventListener("drop", function (event) {
    const column = columnOf(event.target);
    if (!column) return;
    event.preventDefault();
    column.classList.remove("drop-target");
    const url = event.dataTransfer.getData("text/plain");
    if (!url || !window.htmx) return;
    htmx.ajax("POST", url, {
      target: "#board-notice",
      swap: "innerHTML",
      values: { to_stage: column.dataset.stage },
    });
  });
})();
