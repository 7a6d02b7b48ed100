/*
 * Progressive enhancement: a live line chart per Datastream from the STA
 * $aggregate extension (mean, and the band from lowest to highest value).
 * The table under each chart holds the same figures, so the chart is an extra.
 * The chart refreshes every minute while the page is visible, so new
 * measurements appear without reloading.
 */
(function () {
  "use strict";
  if (!window.Chart || !window.fetch) { return; }
  var REFRESH_MS = 60000;

  function labelFor(iso, step, lang) {
    var d = new Date(iso);
    var opts = step === "hour"
      ? { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" }
      : { day: "numeric", month: "short", year: "numeric" };
    try { return new Intl.DateTimeFormat(lang || "nl", opts).format(d); } catch (e) { return iso; }
  }

  function series(body, step, lang) {
    var out = { labels: [], mean: [], min: [], max: [] };
    var value = (body && body.value) || [];
    for (var i = 0; i < value.length; i++) {
      out.labels.push(labelFor(String(value[i].phenomenonTime).split("/")[0], step, lang));
      out.mean.push(value[i].mean);
      out.min.push(value[i].min);
      out.max.push(value[i].max);
    }
    return out;
  }

  function load(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); });
  }

  function draw(canvas, data) {
    var unit = canvas.getAttribute("data-unit") || "";
    return new window.Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [
          { label: canvas.getAttribute("data-label-range"), data: data.max, borderWidth: 0, pointRadius: 0,
            backgroundColor: "rgba(11, 79, 108, 0.15)", fill: "+1" },
          { label: "_min", data: data.min, borderWidth: 0, pointRadius: 0, fill: false },
          { label: canvas.getAttribute("data-label-mean"), data: data.mean, borderColor: "#0b4f6c", borderWidth: 2,
            pointRadius: data.mean.length > 60 ? 0 : 2, backgroundColor: "#0b4f6c", fill: false, tension: 0.2 }
        ]
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { labels: { color: "#1b1f24", filter: function (item) { return item.text !== "_min"; } } },
          tooltip: { filter: function (item) { return item.dataset.label !== "_min"; } }
        },
        scales: {
          y: { title: { display: !!unit, text: unit, color: "#1b1f24" }, ticks: { color: "#1b1f24" },
               grid: { color: "#e3e9ed" } },
          x: { ticks: { color: "#1b1f24", maxTicksLimit: 8, maxRotation: 0 }, grid: { display: false } }
        }
      }
    });
  }

  function start(canvas) {
    var url = canvas.getAttribute("data-aggregate");
    var step = canvas.getAttribute("data-step");
    var lang = canvas.getAttribute("data-lang");
    var chart = null;
    function refresh() {
      return load(url).then(function (body) {
        var data = series(body, step, lang);
        if (!chart) {
          canvas.parentElement.hidden = false;
          chart = draw(canvas, data);
          canvas.setAttribute("data-chart-ready", "true");
        } else {
          chart.data.labels = data.labels;
          chart.data.datasets[0].data = data.max;
          chart.data.datasets[1].data = data.min;
          chart.data.datasets[2].data = data.mean;
          chart.update();
        }
      });
    }
    refresh().catch(function () { canvas.parentElement.hidden = true; });
    window.setInterval(function () {
      if (document.visibilityState === "visible") { refresh().catch(function () { /* keep the last chart */ }); }
    }, REFRESH_MS);
  }

  function init() {
    var canvases = document.querySelectorAll("canvas[data-aggregate]");
    for (var i = 0; i < canvases.length; i++) { start(canvases[i]); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
