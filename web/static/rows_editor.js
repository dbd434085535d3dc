// The product rows editor (templates/sales/_rows_editor.html) of the deal and lead forms.
// Loaded after i18n.js (it uses t()).
//
// - choosing a catalogue product fills the row's name, unit, price and VAT from the option's data;
// - "Add a row" copies the last (empty) row with the next index N (fields rows-N-...), "×" removes one;
// - every change recomputes the row totals and the sums shown under the table. They follow the
//   server's rules (crm_core/sales/rows.py: each row rounded half-up to the kopeck, totals are sums of
//   rounded rows) but in floating point: they are an estimate for the eye only. The server recomputes
//   them exactly with Decimal when the form is saved, and the page shown afterwards has its figures.
"use strict";

(function () {
  const t = I18N.t;

  function number(text) {
    let cleaned = String(text || "").replace(/[\s\u202f\u00a0]/g, "");
    if (cleaned.includes(",") && !cleaned.includes(".")) {
      cleaned = cleaned.replace(",", ".");
    }
    cleaned = cleaned.replace(/,/g, "");
    const value = Number(cleaned);
    return cleaned === "" || !Number.isFinite(value) ? null : value;
  }

  function kopecks(value) {
    return Math.round((value + Number.EPSILON) * 100) / 100;
  }

  function money(value) {
    return value.toLocaleString(I18N.locale === "ru" ? "ru-RU" : "en-US", {
      minimumFractionDigits: 2,
      maximumFractionDigits: 2,
    });
  }

  function field(row, cls) {
    return row.querySelector("." + cls);
  }

  // One row's discount, tax and total, rounded as the server rounds each row.
  function rowAmounts(row) {
    const quantity = number(field(row, "row-quantity").value);
    const price = number(field(row, "row-price").value);
    if (quantity === null || price === null) {
      return null;
    }
    const kind = field(row, "row-discount-type").value;
    const off = number(field(row, "row-discount").value) || 0;
    let unit = price;
    if (kind === "percent") {
      unit = price * (1 - off / 100);
    } else if (kind === "sum") {
      unit = price - off;
    }
    const line = kopecks(unit * quantity);
    const discount = kopecks(price * quantity) - line;
    const rate = number(field(row, "row-vat").value);
    const included = field(row, "row-included").value !== "0";
    let tax = 0;
    let total = line;
    if (rate !== null) {
      tax = included ? kopecks((line * rate) / (100 + rate)) : kopecks((line * rate) / 100);
      total = included ? line : line + tax;
    }
    return { discount: discount, tax: tax, total: total };
  }

  function recompute(editor) {
    const sums = { discount: 0, tax: 0, total: 0 };
    editor.querySelectorAll("tr.row-edit").forEach(function (row) {
      const amounts = rowAmounts(row);
      field(row, "row-total").textContent = amounts ? money(amounts.total) : "";
      if (amounts) {
        sums.discount += amounts.discount;
        sums.tax += amounts.tax;
        sums.total += amounts.total;
      }
    });
    editor.querySelector(".live-discount").textContent = money(sums.discount);
    editor.querySelector(".live-tax").textContent = money(sums.tax);
    editor.querySelector(".live-total").textContent = money(sums.total);
  }

  function fillFromProduct(row) {
    const option = field(row, "row-product").selectedOptions[0];
    if (!option || !option.value) {
      return;
    }
    field(row, "row-name").value = option.dataset.name;
    field(row, "row-unit").value = option.dataset.unit;
    field(row, "row-price").value = option.dataset.price;
    field(row, "row-vat").value = option.dataset.vat;
    field(row, "row-included").value = option.dataset.included;
    if (!field(row, "row-quantity").value) {
      field(row, "row-quantity").value = "1";
    }
  }

  function addRow(editor) {
    const rows = editor.querySelectorAll("tr.row-edit");
    const last = rows[rows.length - 1];
    let next = 0;
    rows.forEach(function (row) {
      next = Math.max(next, Number(row.dataset.row) + 1);
    });
    const copy = last.cloneNode(true);
    copy.dataset.row = String(next);
    copy.querySelectorAll("[name]").forEach(function (input) {
      input.name = input.name.replace(/^rows-\d+-/, "rows-" + next + "-");
      if (input.tagName === "SELECT") {
        input.selectedIndex = 0;
      } else {
        input.value = input.classList.contains("row-quantity") ? "1" : "";
      }
    });
    copy.querySelectorAll(".field-error").forEach(function (error) {
      error.remove();
    });
    last.after(copy);
    recompute(editor);
    return copy;
  }

  function setUp(editor) {
    editor.querySelectorAll(".row-remove, .row-add").forEach(function (button) {
      button.hidden = false;
    });
    editor.addEventListener("change", function (event) {
      const row = event.target.closest("tr.row-edit");
      if (row && event.target.classList.contains("row-product")) {
        fillFromProduct(row);
      }
      recompute(editor);
    });
    editor.addEventListener("input", function () {
      recompute(editor);
    });
    editor.addEventListener("click", function (event) {
      if (event.target.classList.contains("row-add")) {
        addRow(editor);
      } else if (event.target.classList.contains("row-remove")) {
        const row = event.target.closest("tr.row-edit");
        if (editor.querySelectorAll("tr.row-edit").length === 1) {
          addRow(editor);
        }
        row.remove();
        recompute(editor);
      }
    });
    editor.querySelector(".row-add").title = t("Add a row");
    recompute(editor);
  }

  document.querySelectorAll(".rows-editor").forEach(setUp);
})();
