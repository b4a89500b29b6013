// The add modals of the integrations and merchant account pages (Alpine CSP build: the logic
// lives here; templates only name properties and methods). A wizard walks numbered panels
// (data-step), lets a choice on one step decide which inputs the next shows (data-provider,
// data-category), checks each step's inputs before moving on and shows a review of what will be
// saved, secrets masked. The server validates again and answers with errors at the fields.
(function () {
  "use strict";

  var MASK = "\u2022\u2022\u2022\u2022";

  function number(text, fallback) {
    var value = parseInt(text, 10);
    return isNaN(value) ? fallback : value;
  }

  function shownValue(field) {
    if (field.type === "checkbox") { return field.checked ? "yes" : ""; }
    if (field.type === "password") {
      return field.value ? MASK + (field.value.length >= 12 ? field.value.slice(-4) : "") : "";
    }
    if (field.tagName === "SELECT") {
      return Array.prototype.map.call(field.selectedOptions, function (o) {
        return o.value ? o.textContent.trim() : "";
      }).filter(Boolean).join(", ");
    }
    return field.value.trim();
  }

  document.addEventListener("alpine:init", function () {
    window.Alpine.data("wizard", function () {
      return {
        step: 1,
        steps: 1,
        category: "",
        provider: "",
        review: [],
        working: false,
        start: function () { this.working = true; },
        init: function () {
          var root = this.$root;
          this.steps = root.querySelectorAll("[data-step]").length || 1;
          this.step = number(root.dataset.startStep, 1);
          this.category = root.dataset.category || "";
          this.provider = root.dataset.provider || "";
          if (this.step === this.steps) { this.collect(); }
        },
        get notFirst() { return this.step !== 1; },
        get isLast() { return this.step === this.steps; },
        get notLast() { return this.step !== this.steps; },
        get hasReview() { return this.review.length > 0; },
        isStep: function () { return number(this.$el.dataset.step, 0) === this.step; },
        stepClass: function () {
          var n = number(this.$el.dataset.stepMark, 0);
          return n === this.step ? "current" : (n < this.step ? "done" : "");
        },
        inCategory: function () {
          return !this.category || this.$el.dataset.category === this.category;
        },
        isProvider: function () { return this.$el.dataset.provider === this.provider; },
        notProvider: function () { return this.$el.dataset.provider !== this.provider; },
        chooseCategory: function () {
          this.category = this.$el.dataset.category;
          this.provider = "";
          this.next();
        },
        chooseProvider: function () {
          this.provider = this.$el.dataset.provider;
          this.next();
        },
        next: function () {
          if (!this.stepIsValid()) { return; }
          if (this.step < this.steps) { this.step += 1; }
          if (this.step === this.steps) { this.collect(); }
        },
        back: function () { if (this.step > 1) { this.step -= 1; } },
        // The browser's own checks (required, pattern, min/max) for the inputs of this step.
        stepIsValid: function () {
          var panel = this.$root.querySelector('[data-step="' + this.step + '"]');
          if (!panel) { return true; }
          var fields = panel.querySelectorAll("input, select, textarea");
          for (var i = 0; i < fields.length; i += 1) {
            var field = fields[i];
            if (!field.disabled && !field.checkValidity()) {
              field.reportValidity();
              return false;
            }
          }
          return true;
        },
        collect: function () {
          var items = [];
          this.$root.querySelectorAll("[data-review]").forEach(function (field) {
            if (field.disabled || field.closest("fieldset[disabled]")) { return; }
            if (field.type === "radio" && !field.checked) { return; }
            var value = shownValue(field);
            if (value) { items.push({ label: field.dataset.review, value: value }); }
          });
          this.review = items;
        },
      };
    });

    // A form that takes a while (a connection test): its button waits, a spinner says why.
    window.Alpine.data("busy", function () {
      return {
        working: false,
        start: function () { this.working = true; },
      };
    });

    // The edit tabs of a merchant account: the active one comes from the page (?tab=).
    window.Alpine.data("tabs", function () {
      return {
        tab: "",
        init: function () { this.tab = this.$root.dataset.tab || ""; },
        isTab: function () { return this.$el.dataset.tab === this.tab; },
        tabClass: function () { return this.$el.dataset.tab === this.tab ? "active" : ""; },
        show: function () { this.tab = this.$el.dataset.tab; },
      };
    });
  });

  // A refused save comes back with its modal marked to open again (after Alpine has started).
  document.addEventListener("alpine:initialized", function () {
    document.querySelectorAll("[data-open-on-load]").forEach(function (element) {
      window.dispatchEvent(new CustomEvent("modal-open", { detail: element.dataset.openOnLoad }));
    });
  });
})();
