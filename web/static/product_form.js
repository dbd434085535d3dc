// The product form (templates/sales/product_form.html): the chosen section's custom fields.
// Loaded after i18n.js (it uses t()).
//
// When the section select changes, the section is read from GET /api/v1/product-sections/{id}
// (the session cookie, same origin; a GET needs no CSRF token) and its fields replace the ones
// shown, as the server renders them: text, number, date, a checkbox for yes or no, the required
// ones marked. A value typed into a field of the same code and type is kept. The hidden
// fields_of then names the section whose fields are shown, so the server saves the form at once;
// if the section cannot be read, fields_of keeps the old section and the server shows the new
// section's fields when the form is posted.
"use strict";

(function () {
  const t = I18N.t;
  const form = document.querySelector("form.product-form");
  if (!form) {
    return;
  }
  const select = form.querySelector("select[name=section_id]");
  const fieldsOf = form.querySelector("input[name=fields_of]");
  const box = form.querySelector(".section-fields");
  const inputs = box.querySelector(".section-inputs");
  const status = box.querySelector(".section-status");
  const INPUT_TYPES = { number: "number", date: "date", string: "text" };
  let asked = 0;

  // What is typed now, by code and type: carried over to a field of the same code and type.
  function typedValues() {
    const values = {};
    inputs.querySelectorAll("[data-field]").forEach(function (label) {
      const input = label.querySelector("input");
      values[label.dataset.field + ":" + input.type] = input.type === "checkbox" ? input.checked : input.value;
    });
    return values;
  }

  function requiredMark() {
    const mark = document.createElement("abbr");
    mark.className = "required";
    mark.title = t("required");
    mark.textContent = "*";
    return mark;
  }

  function fieldLabel(field, kept) {
    const label = document.createElement("label");
    label.dataset.field = field.code;
    const input = document.createElement("input");
    input.name = "prop-" + field.code;
    if (field.type === "boolean") {
      label.className = "check";
      input.type = "checkbox";
      input.value = "1";
      input.checked = kept[field.code + ":checkbox"] === true;
      label.append(input, " " + field.name);
      if (field.required) {
        label.append(" ", requiredMark());
      }
      return label;
    }
    input.type = INPUT_TYPES[field.type] || "text";
    if (input.type === "number") {
      input.step = "any";
    }
    input.required = field.required;
    input.value = kept[field.code + ":" + input.type] || "";
    const name = document.createElement("span");
    name.textContent = field.name;
    if (field.required) {
      name.append(" ", requiredMark());
    }
    label.append(name, input);
    return label;
  }

  function show(fields, sectionId) {
    const kept = typedValues();
    inputs.replaceChildren.apply(
      inputs,
      fields.map(function (field) {
        return fieldLabel(field, kept);
      }),
    );
    box.hidden = fields.length === 0;
    fieldsOf.value = sectionId;
  }

  select.addEventListener("change", async function () {
    const sectionId = select.value;
    const ticket = ++asked; // only the answer for the latest choice counts
    status.hidden = true;
    if (!sectionId) {
      show([], "");
      return;
    }
    try {
      const response = await fetch("/api/v1/product-sections/" + encodeURIComponent(sectionId), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (ticket !== asked) {
        return;
      }
      if (!response.ok) {
        throw new Error(String(response.status));
      }
      const section = await response.json();
      if (ticket === asked) {
        show(section.fields || [], String(section.id));
      }
    } catch (_error) {
      if (ticket === asked) {
        status.textContent = t("The fields of this section could not be loaded: save, and the form shows them.");
        status.hidden = false;
        box.hidden = false;
      }
    }
  });
})();
