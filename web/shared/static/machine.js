/* Draws the state machine of /admin/machine with Mermaid (served from node_modules/ when
   installed). Without JavaScript, or if drawing fails, the Mermaid source stays shown. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var source = document.getElementById("source-machine");
    var target = document.getElementById("dessin-machine");
    var figure = document.getElementById("machine");
    if (!source || !target || typeof window.mermaid === "undefined") {
      if (figure) figure.classList.remove("mermaid-drawn");
      return;
    }
    window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });
    window.mermaid.render("machine-svg", source.textContent).then(function (result) {
      target.innerHTML = result.svg;
      target.setAttribute("aria-hidden", "false");
      var svg = target.querySelector("svg");
      if (svg) {
        svg.setAttribute("role", "img");
        svg.setAttribute("aria-label", "Diagramme d'états des dossiers");
      }
      figure.setAttribute("data-drawn", "oui");
    }).catch(function () {
      figure.classList.remove("mermaid-drawn");
    });
  });
})();
