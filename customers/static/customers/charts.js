// Draws the Plotly figures the account page embeds as JSON (<script type="application/json">),
// on first load and whenever htmx swaps a chart section in. No inline code, no markup from data.
// Listens for htmx's events rather than calling htmx, which loads deferred.
(function () {
  "use strict";
  function draw(root) {
    const charts = [];
    if (root.matches && root.matches("[data-plotly-spec]")) charts.push(root);
    if (root.querySelectorAll) charts.push(...root.querySelectorAll("[data-plotly-spec]"));
    charts.forEach(function (el) {
      const spec = document.getElementById(el.dataset.plotlySpec);
      if (!spec || el.dataset.drawn) return;
      const figure = JSON.parse(spec.textContent);
      el.dataset.drawn = "1";
      Plotly.newPlot(el, figure.data, figure.layout, { responsive: true, displaylogo: false });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:load", function (event) { draw(event.detail.elt); });
})();
