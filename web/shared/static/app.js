/* Small enhancements; every page works without them.
   - fields shown only when another field has a value (data-visible-if);
   - repeated table rows added and removed in place (data-add-row, data-remove-row);
   - a warning before leaving a form with unsaved changes (form[data-warn-unsaved]);
   - a print button (data-print);
   - the towns of a postal code proposed as it is typed (input[data-communes]). */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function valuesOf(form, name) {
    var values = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name !== name) return;
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) return;
      if (el.value !== "") values.push(el.value);
    });
    return values;
  }

  function applyConditions(root) {
    root.querySelectorAll("[data-visible-if]").forEach(function (group) {
      var rule = JSON.parse(group.getAttribute("data-visible-if"));
      var form = group.closest("form");
      var current = rule.field && form && form.elements[rule.field] ? valuesOf(form, rule.field) : rule.saved;
      var show;
      if (rule.filled !== null && rule.filled !== undefined) {
        show = (current.length > 0) === rule.filled;
      } else {
        show = current.some(function (v) { return rule.expected.indexOf(v) !== -1; });
      }
      group.hidden = !show;
    });
  }

  function renumber(table) {
    var key = table.getAttribute("data-table");
    var rows = table.querySelectorAll("tbody tr[data-row]");
    rows.forEach(function (row, index) {
      row.querySelectorAll("[name]").forEach(function (el) {
        el.name = el.name.replace(new RegExp("^" + key + "\\.[^.]+\\."), key + "." + index + ".");
        if (el.id) el.id = el.id.replace(new RegExp("^f-" + key + "-[^-]+-"), "f-" + key + "-" + index + "-");
      });
      var remove = row.querySelector("[data-remove-row]");
      if (remove) remove.value = "supprimer:" + key + ":" + index;
    });
    table.querySelector("[data-row-count]").value = rows.length;
  }

  var dirty = false;

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    var remove = event.target.closest("[data-remove-row]");
    var print = event.target.closest("[data-print]");
    if (print) { event.preventDefault(); window.print(); return; }
    if (!add && !remove) return;
    event.preventDefault();
    var table = (add || remove).closest("[data-table]");
    if (add) {
      var template = table.querySelector("template[data-row-template]");
      var count = table.querySelectorAll("tbody tr[data-row]").length;
      var html = template.innerHTML.replace(/__i__/g, String(count));
      table.querySelector("tbody").insertAdjacentHTML("beforeend", html);
      var first = table.querySelector("tbody tr[data-row]:last-child input, tbody tr[data-row]:last-child select");
      if (first) first.focus();
    } else {
      remove.closest("tr").remove();
      var focusTarget = table.querySelector("[data-add-row]");
      if (focusTarget) focusTarget.focus();
    }
    renumber(table);
    dirty = true;
  });

  document.addEventListener("DOMContentLoaded", function () {
    applyConditions(document);
    var summary = document.getElementById("erreurs");
    if (summary) summary.focus();
    document.querySelectorAll("form[data-warn-unsaved]").forEach(function (form) {
      form.addEventListener("input", function () { dirty = true; });
      form.addEventListener("change", function () { dirty = true; applyConditions(form); });
      form.addEventListener("submit", function () { dirty = false; });
    });
    document.querySelectorAll("form:not([data-warn-unsaved])").forEach(function (form) {
      form.addEventListener("change", function () { applyConditions(form); });
    });
    document.querySelectorAll("[data-print]").forEach(function (button) { button.hidden = false; });
    document.querySelectorAll("input[data-communes]").forEach(function (input) {
      input.addEventListener("input", function () { proposeTowns(input); });
    });
  });

  function proposeTowns(input) {
    var code = input.value.replace(/\s/g, "");
    var list = document.getElementById(input.getAttribute("data-communes"));
    if (!list || !/^[0-9]{5}$/.test(code)) return;
    fetch("/codes-postaux/" + code, {headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : {communes: []}; })
      .then(function (data) {
        list.textContent = "";
        data.communes.forEach(function (name) {
          var option = document.createElement("option");
          option.value = name;
          list.appendChild(option);
        });
      })
      .catch(function () {});
  }

  window.addEventListener("beforeunload", function (event) {
    if (!dirty) return;
    event.preventDefault();
    event.returnValue = "Des modifications ne sont pas enregistrées.";
    return event.returnValue;
  });
})();
