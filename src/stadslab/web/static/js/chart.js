/*
 * Progressive enhancement: draws a bar chart from a data table that stays on
 * the page (the table is the accessible source; the chart repeats it).
 */
(function () {
  "use strict";
  if (!window.Chart) { return; }

  function draw(canvas) {
    var table = document.getElementById(canvas.getAttribute("data-table"));
    if (!table) { return; }
    var labels = [], values = [];
    var rows = table.querySelectorAll("tbody tr");
    for (var i = 0; i < rows.length; i++) {
      labels.push(rows[i].querySelector("th").textContent.trim());
      values.push(Number(rows[i].querySelector("[data-value]").getAttribute("data-value")));
    }
    canvas.parentElement.hidden = false;
    window.Chart.defaults.font.size = 14;
    window.Chart.defaults.color = "#1b1f24";
    new window.Chart(canvas, {
      type: "bar",
      data: { labels: labels, datasets: [{ data: values, backgroundColor: "#0b4f6c", borderRadius: 3, maxBarThickness: 64 }] },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { display: false }, tooltip: { enabled: true } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0, color: "#1b1f24" }, grid: { color: "#e3e9ed" } },
                  x: { ticks: { color: "#1b1f24" }, grid: { display: false } } }
      }
    });
    canvas.setAttribute("data-chart-ready", "true");
  }

  function init() {
    var canvases = document.querySelectorAll("canvas[data-table]");
    for (var i = 0; i < canvases.length; i++) {
      try { draw(canvases[i]); } catch (err) { canvases[i].parentElement.hidden = true; }
    }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
