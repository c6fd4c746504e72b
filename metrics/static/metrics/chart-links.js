// A click on a bar whose trace carries a URL per point (customdata) opens it: e.g. an
// expansion bar opens that month's expanding accounts. Runs after customers/charts.js has
// drawn the charts (its listeners are registered first). No inline code (strict CSP).
(function () {
  "use strict";
  function bind(root) {
    const charts = [];
    if (root.matches && root.matches("[data-chart-links]")) charts.push(root);
    if (root.querySelectorAll) charts.push(...root.querySelectorAll("[data-chart-links]"));
    charts.forEach(function (el) {
      if (el.dataset.linked || typeof el.on !== "function") return;
      el.dataset.linked = "1";
      el.on("plotly_click", function (event) {
        // The first point clicked that carries a link (a line drawn over the bars has none).
        const point = (event.points || []).find(function (p) {
          return typeof p.customdata === "string" && p.customdata.startsWith("/");
        });
        if (point) window.location.assign(point.customdata);
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { bind(document); });
  document.addEventListener("htmx:load", function (event) { bind(event.detail.elt); });
})();
