// Pools and routing rules pages: drag-and-drop lists, weight slider read-outs, pie and line
// charts, and the modal a refused form re-opens. Runs on the first load and on every HTMX swap.
(function () {
  "use strict";

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }
  function palette() {
    return [cssVar("--accent") || "#22d3ee", cssVar("--ok") || "#22c55e", cssVar("--warn") || "#f59e0b",
      cssVar("--bad") || "#ef4444", "#a78bfa", "#f472b6", "#94a3b8", "#2dd4bf"];
  }
  function jsonOf(id) {
    var source = document.getElementById(id);
    return source ? JSON.parse(source.textContent) : null;
  }

  // <ol data-sortable> inside a form with hx-trigger="end": Sortable fires "end" after a drop,
  // and the hidden inputs, now in their new order, are what the form posts.
  function initSortables(root) {
    if (!window.Sortable) { return; }
    root.querySelectorAll("[data-sortable]").forEach(function (list) {
      if (list.dataset.sortableReady) { return; }
      list.dataset.sortableReady = "1";
      window.Sortable.create(list, { handle: ".drag-handle", animation: 150, ghostClass: "drag-ghost" });
    });
  }

  function initWeightOutputs(root) {
    root.querySelectorAll("input[type=range]").forEach(function (slider) {
      var output = slider.parentElement.querySelector("[data-weight-output]");
      if (!output) { return; }
      slider.addEventListener("input", function () { output.textContent = slider.value; });
    });
  }

  var charts = [];
  function legend() {
    return { labels: { color: cssVar("--text") || "#e4e4e7" } };
  }
  function axes() {
    return {
      x: { ticks: { color: cssVar("--muted") }, grid: { display: false } },
      y: { beginAtZero: true, ticks: { color: cssVar("--muted") }, grid: { color: cssVar("--border") } },
    };
  }
  // <canvas data-pie="<id>"> with {labels, data}; <canvas data-line="<id>"> with {labels, series}.
  function drawCharts(root) {
    if (!window.Chart) { return; }
    var colors = palette();
    root.querySelectorAll("canvas[data-pie]").forEach(function (canvas) {
      var data = jsonOf(canvas.dataset.pie);
      if (!data) { return; }
      charts.push(new window.Chart(canvas, {
        type: "doughnut",
        data: { labels: data.labels, datasets: [{ data: data.data, backgroundColor: colors, borderWidth: 0 }] },
        options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: legend() } },
      }));
    });
    root.querySelectorAll("canvas[data-line]").forEach(function (canvas) {
      var data = jsonOf(canvas.dataset.line);
      if (!data) { return; }
      charts.push(new window.Chart(canvas, {
        type: "line",
        data: {
          labels: data.labels,
          datasets: data.series.map(function (s, i) {
            return { label: s.label, data: s.data, borderColor: colors[i % colors.length], backgroundColor: colors[i % colors.length], tension: 0.2, pointRadius: 2 };
          }),
        },
        options: { responsive: true, maintainAspectRatio: false, animation: false, scales: axes(), plugins: { legend: legend() } },
      }));
    });
  }
  function redrawAll() {
    charts.forEach(function (chart) { chart.destroy(); });
    charts = [];
    drawCharts(document);
  }

  function setUp(root) {
    initSortables(root);
    initWeightOutputs(root);
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUp(document);
    drawCharts(document);
    // A refused add form comes back with its modal marked to open again.
    document.querySelectorAll("[data-open-on-load]").forEach(function (form) {
      window.dispatchEvent(new CustomEvent("modal-open", { detail: form.dataset.openOnLoad }));
    });
  });
  document.addEventListener("htmx:load", function (event) { setUp(event.detail.elt); });
  document.addEventListener("avnz:theme", redrawAll);
})();
