/* The exports page: moves each pending export's progress bar every 2 seconds, and reloads
   the page once one is finished (to show its link). Without JavaScript, the page refreshes
   itself (<noscript> meta refresh) and has an « Actualiser » link. */
(function () {
  "use strict";
  function poll(bar) {
    var row = bar.closest("tr");
    var label = row ? row.querySelector("[data-export-label]") : null;
    var count = row ? row.querySelector("[data-export-count]") : null;
    fetch(bar.getAttribute("data-export-status"), { credentials: "same-origin" })
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (job) {
        if (!job) return;
        bar.max = job.total || 1;
        bar.value = job.done;
        if (label) label.textContent = job.label;
        if (count) count.textContent = job.done + " / " + job.total + " dossiers";
        if (job.status === "queued" || job.status === "running") {
          window.setTimeout(function () { poll(bar); }, 2000);
        } else {
          window.location.reload();
        }
      })
      .catch(function () { window.setTimeout(function () { poll(bar); }, 10000); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("progress[data-export-status]").forEach(function (bar) {
      window.setTimeout(function () { poll(bar); }, 2000);
    });
  });
})();
