/* Small enhancements of the ARS pages; every page works without them.
   - « Tout sélectionner » in the dashboard's table (input[data-select-all]). */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-select-all]").forEach(function (all) {
      var name = all.getAttribute("data-select-all");
      var form = all.closest("form");
      var boxes = form ? form.querySelectorAll("input[type=checkbox][name='" + name + "']") : [];
      if (!boxes.length) return;
      all.hidden = false;
      all.addEventListener("change", function () {
        boxes.forEach(function (box) { box.checked = all.checked; });
      });
    });
  });
})();
