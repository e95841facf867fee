// The deal board.
// Desktop: drag a card onto the next column to move the deal there (the server checks the stage's exit
// criteria; a refused move comes back as the card with the reason in it). Dropping it on an earlier column
// opens the card's "move back" form in place, on that stage, to write the comment a move back needs.
// Phone (below the md breakpoint): one stage at a time; its tab switches here without reloading and is
// kept in the address. Moves from the card menu are plain htmx forms (deals/cards.py).
(function () {
  "use strict";

  function columnOf(element) {
    return element && element.closest && element.closest("[data-stage]");
  }

  // --- phone: the stage tabs -------------------------------------------------------------------------
  function selectStage(stage, url) {
    document.querySelectorAll(".board-column").forEach(function (column) {
      column.classList.toggle("is-selected", column.dataset.stage === stage);
    });
    document.querySelectorAll("[data-stage-tab]").forEach(function (tab) {
      const selected = tab.dataset.stageTab === stage;
      tab.classList.toggle("active", selected);
      if (selected) {
        tab.setAttribute("aria-current", "page");
      } else {
        tab.removeAttribute("aria-current");
      }
    });
    const filterStage = document.querySelector("#board-filters input[name=stage]");
    if (filterStage) filterStage.value = stage;
    if (url) window.history.replaceState(null, "", url);
  }

  document.addEventListener("click", function (event) {
    const tab = event.target.closest && event.target.closest("[data-stage-tab]");
    if (!tab || event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    selectStage(tab.dataset.stageTab, tab.href);
  });

  document.addEventListener("DOMContentLoaded", function () {
    // The "next contact" filter and the head's choice of hunter apply as soon as they are chosen.
    document.querySelectorAll("#board-filters input[name=due], #board-filters select[name=owner]").forEach(
      function (field) {
        field.addEventListener("change", function () {
          field.form.requestSubmit();
        });
      },
    );
  });

  // The notice of a move closes by itself after a while: on a phone it floats over the cards.
  let noticeTimer = null;
  document.addEventListener("htmx:afterSettle", function () {
    const alert = document.querySelector("#board-notice .alert");
    if (!alert) return;
    window.clearTimeout(noticeTimer);
    noticeTimer = window.setTimeout(function () {
      if (window.bootstrap && alert.isConnected) window.bootstrap.Alert.getOrCreateInstance(alert).close();
    }, 6000);
  });

  // --- desktop: drag and drop ------------------------------------------------------------------------
  document.addEventListener("dragstart", function (event) {
    const card = event.target.closest && event.target.closest("[data-deal-url]");
    if (!card) return;
    event.dataTransfer.setData("text/plain", card.id);
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

  // A move back: the board's back form, copied into the card with the stages before the card's, open on
  // ``stage`` (the one before by default) and waiting for the comment.
  function askForComment(card, stage) {
    let form = card.querySelector("form.card-back");
    if (!form) {
      const template = document.getElementById("card-back-template");
      if (!template) return;
      form = template.content.firstElementChild.cloneNode(true);
      form.action = card.dataset.dealUrl;
      form.setAttribute("hx-post", card.dataset.dealUrl);
      const select = form.elements.to_stage;
      const options = Array.from(select.options);
      const current = options.findIndex(function (option) {
        return option.value === card.dataset.cardStage;
      });
      options.slice(Math.max(current, 0)).forEach(function (option) {
        option.remove();
      });
      select.value = select.options.length ? select.options[select.options.length - 1].value : "";
      const labels = form.querySelectorAll("label");
      select.id = card.id + "-back";
      form.elements.comment.id = card.id + "-comment";
      labels[0].htmlFor = select.id;
      labels[1].htmlFor = form.elements.comment.id;
      const link = card.querySelector("[data-back]");
      if (link) link.replaceWith(form);
      else card.querySelector(".card-menu-body").append(form);
      if (window.htmx) htmx.process(form);
    }
    if (stage) form.elements.to_stage.value = stage;
    card.querySelector("details.card-menu").open = true;
    form.elements.comment.focus({ preventScroll: true });
  }

  document.addEventListener("click", function (event) {
    const link = event.target.closest && event.target.closest("[data-back]");
    if (!link) return;
    const card = link.closest("[data-deal-url]");
    if (!card || !document.getElementById("card-back-template")) return;
    event.preventDefault();
    askForComment(card, null);
  });

  document.addEventListener("drop", function (event) {
    const column = columnOf(event.target);
    if (!column) return;
    event.preventDefault();
    column.classList.remove("drop-target");
    const card = document.getElementById(event.dataTransfer.getData("text/plain"));
    const from = columnOf(card);
    if (!card || !from || from === column || !window.htmx) return;
    if (Number(column.dataset.stageIndex) < Number(from.dataset.stageIndex)) {
      askForComment(card, column.dataset.stage);
      return;
    }
    htmx.ajax("POST", card.dataset.dealUrl, {
      source: card,
      target: card,
      swap: "outerHTML",
      values: { to_stage: column.dataset.stage },
    });
  });
})();
