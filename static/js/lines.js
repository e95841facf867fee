// Order and sample lines (deals/templates/deals/_lines.html): adds rows from the formset's empty form,
// removes them by ticking their «убрать» box, declines each row's unit for its quantity and, on the order,
// keeps each line's sum and the order's total as the hunter types. The page works without this script:
// the server reads the same fields and shows the same total after saving.
(function () {
  "use strict";

  const GROUP_SPACES = /[ \u00a0\u202f\u2009]/g;
  const HAS_GROUP_SPACE = /[ \u00a0\u202f\u2009]/;
  // The unit's forms come from the server's catalogue for the page's language, one per plural category.
  const pluralRules = new Intl.PluralRules(document.documentElement.lang || "ru");
  const money = new Intl.NumberFormat("ru-RU", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  // A number as the server reads it (atlanset_portal/numbers.py), scaled to an integer of 10^-places:
  // {ok: true, value: BigInt} (value null when empty), or {ok: false} for what the server would refuse.
  function parseScaled(text, places) {
    let typed = (text || "").trim();
    if (!typed) return { ok: true, value: null };
    let negative = false;
    if (/^[-−–]/.test(typed)) {
      negative = true;
      typed = typed.slice(1).trim();
    }
    if (typed.includes(",") && typed.includes(".")) return { ok: false };
    const separators = typed.match(/[.,]/g) || [];
    if (separators.length > 1) return { ok: false };
    const parts = typed.split(/[.,]/);
    let whole = parts[0];
    const fraction = parts.length > 1 ? parts[1] : "";
    const grouped = HAS_GROUP_SPACE.test(whole);
    if (grouped) {
      if (!/^\d{1,3}([ \u00a0\u202f\u2009]\d{3})+$/.test(whole)) return { ok: false };
      whole = whole.replace(GROUP_SPACES, "");
    }
    if (!/^\d*$/.test(whole) || !/^\d*$/.test(fraction) || !(whole || fraction)) return { ok: false };
    const dot = separators[0] === ".";
    if (dot && !grouped && fraction.length === 3 && whole.length <= 3 && whole && whole[0] !== "0") {
      return { ok: false }; // «1.500»: 1,5 or 1 500 — the server asks too
    }
    if (fraction.length > places) return { ok: false };
    const digits = (whole || "0") + fraction.padEnd(places, "0");
    const value = BigInt(digits);
    return { ok: true, value: negative ? -value : value };
  }

  function formatRubles(kopecks) {
    return money.format(Number(kopecks) / 100) + "\u00a0₽";
  }

  function unitFor(quantityText, forms) {
    const parsed = parseScaled(quantityText, 3);
    let category = "one";
    if (parsed.ok && parsed.value !== null) {
      category = pluralRules.select(Number(parsed.value) / 1000);
    }
    return forms[category] || forms.other;
  }

  function selectedProduct(line) {
    const select = line.querySelector("select[name$='-product']");
    return select && select.selectedIndex >= 0 ? select.options[select.selectedIndex] : null;
  }

  function isRemoved(line) {
    const box = line.querySelector("input[name$='-DELETE']");
    return Boolean(box && box.checked);
  }

  function refreshLine(line, priced, listPriceLabel) {
    const option = selectedProduct(line);
    const quantityInput = line.querySelector("input[name$='-quantity']");
    const unit = line.querySelector("[data-quantity] .input-group-text");
    if (unit && option && option.dataset.unitForms) {
      unit.textContent = unitFor(quantityInput.value, JSON.parse(option.dataset.unitForms));
    }
    if (!priced) return { ok: true, sum: 0n };
    const priceInput = line.querySelector("input[name$='-price']");
    const listPrice = option && option.dataset.listPrice;
    if (priceInput) priceInput.placeholder = listPrice ? listPriceLabel + " " + listPrice : "";
    const shown = line.querySelector("[data-line-total]");
    const quantity = parseScaled(quantityInput.value, 3);
    let price = parseScaled(priceInput ? priceInput.value : "", 2);
    if (price.ok && price.value === null && listPrice) price = parseScaled(listPrice, 2);
    if (!option || !option.value || quantity.value === null) {
      if (shown) shown.textContent = "";
      return { ok: true, sum: 0n, empty: true };
    }
    if (!quantity.ok || !price.ok || price.value === null) {
      if (shown) shown.textContent = "—";
      return { ok: false };
    }
    const sum = quantity.value * price.value; // in 10^-5 roubles: thousandths × kopecks
    if (shown) shown.textContent = "= " + formatRubles(roundToKopecks(sum));
    return { ok: true, sum: sum };
  }

  function roundToKopecks(sum) {
    // Half up, as the server rounds the order's total (deals.services.order_lines_total).
    const negative = sum < 0n;
    const magnitude = negative ? -sum : sum;
    const kopecks = (magnitude + 500n) / 1000n;
    return negative ? -kopecks : kopecks;
  }

  function refresh(container) {
    const priced = container.hasAttribute("data-priced");
    const lines = Array.from(container.querySelectorAll("[data-line-list] [data-line]"));
    let total = 0n;
    let complete = true;
    let number = 0;
    lines.forEach(function (line) {
      const removed = isRemoved(line);
      line.hidden = removed;
      if (removed) return;
      number += 1;
      const label = line.querySelector("[data-line-number]");
      if (label) label.textContent = String(number);
      const result = refreshLine(line, priced, container.dataset.listPriceLabel || "");
      if (!result.ok) complete = false;
      else total += result.sum;
    });
    const form = container.closest("form");
    const shownTotal = form && form.querySelector("[data-order-total]");
    if (priced && shownTotal) shownTotal.textContent = complete ? formatRubles(roundToKopecks(total)) : "—";
    const add = container.querySelector("[data-add-line]");
    const totalForms = managementInput(container, "TOTAL_FORMS");
    const maxForms = managementInput(container, "MAX_NUM_FORMS");
    if (add && totalForms && maxForms) add.disabled = Number(totalForms.value) >= Number(maxForms.value);
  }

  function managementInput(container, name) {
    const form = container.closest("form");
    return form && form.querySelector("input[name='" + container.dataset.prefix + "-" + name + "']");
  }

  function addLine(container) {
    const template = container.querySelector("template[data-line-template]");
    const totalForms = managementInput(container, "TOTAL_FORMS");
    if (!template || !totalForms) return;
    const index = Number(totalForms.value);
    const html = template.innerHTML.replace(/__prefix__/g, String(index));
    container.querySelector("[data-line-list]").insertAdjacentHTML("beforeend", html);
    totalForms.value = String(index + 1);
    const added = container.querySelector("[data-line-list] [data-line]:last-child");
    enhance(added);
    refresh(container);
    const select = added.querySelector("select");
    if (select) select.focus();
  }

  function enhance(line) {
    line.querySelectorAll("[data-remove-line]").forEach(function (button) {
      button.hidden = false;
    });
  }

  function start(container) {
    if (container.classList.contains("lines-js")) return;
    container.classList.add("lines-js");
    container.querySelectorAll("[data-line-list] [data-line]").forEach(enhance);
    const add = container.querySelector("[data-add-line]");
    if (add) add.hidden = false;
    container.addEventListener("click", function (event) {
      if (event.target.closest("[data-add-line]")) {
        addLine(container);
        return;
      }
      const remove = event.target.closest("[data-remove-line]");
      if (!remove) return;
      const line = remove.closest("[data-line]");
      const box = line.querySelector("input[name$='-DELETE']");
      if (box) box.checked = true;
      refresh(container);
    });
    container.addEventListener("input", function () {
      refresh(container);
    });
    container.addEventListener("change", function () {
      refresh(container);
    });
    refresh(container);
  }

  document.querySelectorAll("[data-lines]").forEach(start);
  // A form opened in place (the change of an approved order) arrives by htmx after the page has loaded.
  document.addEventListener("htmx:load", function (event) {
    event.detail.elt.querySelectorAll("[data-lines]").forEach(start);
  });
})();
