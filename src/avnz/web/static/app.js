// The dashboard's behaviour. Alpine is the CSP build (no eval), so every component's logic lives
// here, registered with Alpine.data; templates only name properties and methods.
(function () {
  "use strict";

  var THEME_KEY = "avnz.theme";
  var SIDEBAR_KEY = "avnz.sidebar.collapsed";

  function stored(key) {
    try { return localStorage.getItem(key); } catch (e) { return null; }
  }
  function store(key, value) {
    try { localStorage.setItem(key, value); } catch (e) { /* private mode: not remembered */ }
  }
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : null;
  }
  function currentTheme() {
    return document.documentElement.dataset.theme === "light" ? "light" : "dark";
  }

  document.addEventListener("alpine:init", function () {
    var Alpine = window.Alpine;

    Alpine.data("shell", function () {
      return {
        collapsed: document.documentElement.classList.contains("sidebar-collapsed"),
        drawer: false,
        theme: currentTheme(),
        get drawerClass() { return this.drawer ? "drawer-open" : ""; },
        get themeLabel() { return this.theme === "dark" ? "Light theme" : "Dark theme"; },
        toggleSidebar: function () {
          this.collapsed = !this.collapsed;
          document.documentElement.classList.toggle("sidebar-collapsed", this.collapsed);
          store(SIDEBAR_KEY, this.collapsed ? "1" : "0");
        },
        openDrawer: function () { this.drawer = true; },
        closeDrawer: function () { this.drawer = false; },
        toggleTheme: function () {
          this.theme = this.theme === "dark" ? "light" : "dark";
          document.documentElement.dataset.theme = this.theme;
          store(THEME_KEY, this.theme);
          document.dispatchEvent(new CustomEvent("avnz:theme"));
        },
      };
    });

    Alpine.data("dropdown", function () {
      return {
        open: false,
        toggle: function () { this.open = !this.open; },
        close: function () { this.open = false; },
      };
    });

    // Open with a button carrying data-modal-open="<id>" (see the click listener below).
    Alpine.data("modal", function () {
      return {
        open: false,
        openIf: function (event) {
          if (event.detail === this.$root.dataset.modalId) { this.open = true; }
        },
        close: function () { this.open = false; },
      };
    });

    // Column visibility (remembered per table in localStorage) and row selection.
    Alpine.data("dataTable", function () {
      return {
        hidden: {},
        selected: [],
        storageKey: "",
        csvUrl: "",
        init: function () {
          // Read here: in a nested component's handler, $root is that component's root.
          this.storageKey = this.$root.dataset.storageKey;
          this.csvUrl = this.$root.dataset.csvUrl || "";
          var saved = stored(this.storageKey);
          var keys = saved !== null ? saved : this.$root.dataset.hidden || "";
          var hidden = {};
          keys.split(",").forEach(function (key) { if (key) { hidden[key] = true; } });
          this.hidden = hidden;
        },
        get selectedCount() { return this.selected.length; },
        get selectedIds() { return this.selected.join(","); },
        get selectedExportUrl() {
          var glue = this.csvUrl.indexOf("?") >= 0 ? "&" : "?";
          return this.csvUrl + glue + "ids=" + encodeURIComponent(this.selected.join(","));
        },
        isShown: function (key) { return !this.hidden[key]; },
        columnClass: function (key) { return this.hidden[key] ? "col-hidden" : "col-shown"; },
        toggleColumn: function (key) {
          var hidden = Object.assign({}, this.hidden);
          if (hidden[key]) { delete hidden[key]; } else { hidden[key] = true; }
          this.hidden = hidden;
          store(this.storageKey, Object.keys(hidden).join(","));
        },
        toggleRow: function (event) {
          var box = event.target;
          this.selected = box.checked
            ? this.selected.concat([box.value])
            : this.selected.filter(function (id) { return id !== box.value; });
        },
        toggleAll: function (event) {
          var on = event.target.checked;
          var boxes = event.target.closest(".table-wrap").querySelectorAll("input.row-select");
          boxes.forEach(function (box) { box.checked = on; });
          this.selected = on ? Array.prototype.map.call(boxes, function (b) { return b.value; }) : [];
        },
      };
    });
  });

  // Any button with data-modal-open="<id>" opens that modal.
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-modal-open]");
    if (opener) {
      window.dispatchEvent(new CustomEvent("modal-open", { detail: opener.dataset.modalOpen }));
    }
  });

  // A <select data-autosubmit> submits its form when it changes (no inline handlers: the CSP
  // runs no inline script without the page's nonce).
  document.addEventListener("change", function (event) {
    var field = event.target.closest("[data-autosubmit]");
    if (field && field.form) { field.form.submit(); }
  });

  // Every HTMX request carries the session's CSRF token.
  document.addEventListener("htmx:configRequest", function (event) {
    var token = csrfToken();
    if (token) { event.detail.headers["X-CSRF-Token"] = token; }
  });

  // A partial that failed to load says so where it would have appeared.
  function showLoadError(event) {
    var target = event.detail.target;
    if (!target || target.querySelector(":scope > .load-error")) { return; }
    var alert = document.createElement("div");
    alert.className = "alert alert-bad load-error";
    alert.setAttribute("role", "alert");
    alert.textContent = "This could not be loaded. Check your connection and try again.";
    target.prepend(alert);
  }
  document.addEventListener("htmx:responseError", showLoadError);
  document.addEventListener("htmx:sendError", showLoadError);

  // Charts: <canvas data-chart="<id of a JSON script>"> with {labels, series: [{label, data}]}.
  var charts = [];
  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }
  function drawCharts() {
    if (!window.Chart) { return; }
    charts.forEach(function (chart) { chart.destroy(); });
    charts = [];
    var palette = [cssVar("--accent"), cssVar("--ok")];
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var source = document.getElementById(canvas.dataset.chart);
      if (!source) { return; }
      var data = JSON.parse(source.textContent);
      charts.push(new window.Chart(canvas, {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: data.series.map(function (s, i) {
            return { label: s.label, data: s.data, backgroundColor: palette[i % palette.length], borderRadius: 4 };
          }),
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          scales: {
            x: { ticks: { color: cssVar("--muted") }, grid: { display: false } },
            y: { beginAtZero: true, ticks: { color: cssVar("--muted"), precision: 0 }, grid: { color: cssVar("--border") } },
          },
          plugins: { legend: { labels: { color: cssVar("--text") } } },
        },
      }));
    });
  }
  document.addEventListener("DOMContentLoaded", drawCharts);
  document.addEventListener("avnz:theme", drawCharts);

  // Follow the system's theme until the user picks one.
  if (window.matchMedia) {
    window.matchMedia("(prefers-color-scheme: light)").addEventListener("change", function (event) {
      if (stored(THEME_KEY) === null) {
        document.documentElement.dataset.theme = event.matches ? "light" : "dark";
        drawCharts();
      }
    });
  }
})();
