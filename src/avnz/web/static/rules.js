// The rule builder (Alpine CSP build: every piece of logic lives here; the template only names
// properties and calls methods). It edits a rule in the shape the rules API stores, posts it as
// JSON and shows each error the service returns at the input its path names
// (`conditions.1.children.0.value`). Amounts stay text in major units: the server converts them.
(function () {
  "use strict";

  var MULTI = ["in", "not_in", "all"];
  var PICKERS = ["choice", "country", "currency"];
  var STEP_OF = { name: 1, description: 1, priority: 1, is_active: 1, is_default: 1, company_id: 1,
    conditions: 2, actions: 3, schedule: 4, ab_test: 4 };
  var uid = 0;
  function nextUid() { uid += 1; return "n" + uid; }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  function isInt(text) { return /^-?\d+$/.test(String(text).trim()); }
  function isNumber(text) { return /^-?\d+(\.\d+)?$/.test(String(text).trim()); }
  function splitList(text) {
    return String(text || "").split(",").map(function (s) { return s.trim(); }).filter(Boolean);
  }
  function localDateTime(iso) { return iso ? String(iso).slice(0, 16) : ""; }
  function utcInstant(local) { return local ? (local.length === 16 ? local + ":00Z" : local + "Z") : null; }

  // --- conditions --------------------------------------------------------------------------

  function spec(ref, node) { return ((ref.catalog[node.type] || {})[node.field]) || null; }

  function hasParam(ref, node, name) { return ((spec(ref, node) || {}).params || []).indexOf(name) >= 0; }

  function blankLeaf(ref, type) {
    var fields = Object.keys(ref.catalog[type]);
    var leaf = { uid: nextUid(), type: type, field: fields[0], operator: "", value: "", values: [],
      low: "", high: "", currency: "USD", country: "" };
    leaf.operator = spec(ref, leaf).operators[0];
    return leaf;
  }

  function leafFromStored(ref, stored) {
    var leaf = blankLeaf(ref, stored.type);
    leaf.field = stored.field;
    leaf.operator = stored.operator;
    leaf.currency = stored.currency || "USD";
    leaf.country = stored.country || "";
    var value = stored.value;
    var input = (spec(ref, leaf) || {}).input;
    if (stored.operator === "between") {
      leaf.low = String(value[0]); leaf.high = String(value[1]);
    } else if (Array.isArray(value)) {
      if (PICKERS.indexOf(input) >= 0) { leaf.values = value.map(String); } else { leaf.value = value.join(", "); }
    } else if (stored.operator === "is") {
      leaf.value = value ? "true" : "false";
    } else {
      leaf.value = String(value);
    }
    return leaf;
  }

  function nodeFromStored(ref, stored) {
    if (stored.type === "group") {
      return { uid: nextUid(), type: "group", logic: stored.logic,
        children: stored.children.map(function (c) { return nodeFromStored(ref, c); }) };
    }
    return leafFromStored(ref, stored);
  }

  function typed(input, text) {
    if (input === "int") { return isInt(text) ? parseInt(text, 10) : text; }
    if (input === "rate") { return isNumber(text) ? parseFloat(text) : text; }
    return typeof text === "string" ? text.trim() : text;
  }

  function leafValue(ref, leaf) {
    var input = (spec(ref, leaf) || {}).input;
    if (leaf.operator === "between") { return [typed(input, leaf.low), typed(input, leaf.high)]; }
    if (leaf.operator === "is") { return leaf.value === "true"; }
    if (leaf.operator === "in_tier") { return leaf.value; }
    if (MULTI.indexOf(leaf.operator) >= 0) {
      var items = PICKERS.indexOf(input) >= 0 ? leaf.values.slice() : splitList(leaf.value);
      return items.map(function (item) { return typed(input, item); });
    }
    return typed(input, leaf.value);
  }

  function nodeToJson(ref, node) {
    if (node.type === "group") {
      return { type: "group", logic: node.logic,
        children: node.children.map(function (c) { return nodeToJson(ref, c); }) };
    }
    var out = { type: node.type, field: node.field, operator: node.operator, value: leafValue(ref, node) };
    ((spec(ref, node) || {}).params || []).forEach(function (name) {
      if (node[name]) { out[name] = node[name]; }
    });
    return out;
  }

  // --- actions -----------------------------------------------------------------------------

  function blankAction(ref, type) {
    var values = {};
    (ref.actions[type] || []).forEach(function (f) {
      var fallback = f.input === "bool" ? false : (f.options.length ? f.options[0] : "");
      var given = typeof f.default === "string" || typeof f.default === "boolean";
      values[f.name] = given ? f.default : fallback;
    });
    return { uid: nextUid(), type: type, values: values };
  }

  function actionFromStored(ref, stored) {
    var action = blankAction(ref, stored.type);
    (ref.actions[stored.type] || []).forEach(function (f) {
      var v = stored[f.name];
      if (v === undefined || v === null) { return; }
      if (f.input === "pairs") {
        action.values[f.name] = Object.keys(v).map(function (k) { return k + "=" + v[k]; }).join("\n");
      } else if (f.input === "list") {
        action.values[f.name] = v.join(", ");
      } else if (f.input === "datetime") {
        action.values[f.name] = localDateTime(v);
      } else if (f.input === "bool") {
        action.values[f.name] = Boolean(v);
      } else {
        action.values[f.name] = String(v);
      }
    });
    return action;
  }

  function pairs(text) {
    var out = {};
    String(text || "").split("\n").forEach(function (line) {
      var at = line.indexOf("=");
      if (at > 0) { out[line.slice(0, at).trim()] = line.slice(at + 1).trim(); }
    });
    return out;
  }

  function actionToJson(ref, action) {
    var out = { type: action.type };
    (ref.actions[action.type] || []).forEach(function (f) {
      var v = action.values[f.name];
      if (f.input === "bool") { out[f.name] = Boolean(v); return; }
      if (v === undefined || v === null || String(v).trim() === "") { return; }
      if (f.input === "pairs") { out[f.name] = pairs(v); }
      else if (f.input === "list") { out[f.name] = splitList(v); }
      else if (f.input === "datetime") { out[f.name] = utcInstant(v); }
      else { out[f.name] = String(v).trim(); }
    });
    return out;
  }

  // --- words for the review step -------------------------------------------------------------

  function leafWords(ref, leaf) {
    var s = spec(ref, leaf) || { label: leaf.field };
    var value = leafValue(ref, leaf);
    if (leaf.operator === "is") { return s.label + ": " + (value ? "yes" : "no"); }
    var shown = Array.isArray(value) ? value.join(leaf.operator === "between" ? " and " : ", ") : String(value);
    if (hasParam(ref, leaf, "currency") && leaf.operator !== "in_tier") { shown += " " + leaf.currency; }
    return s.label + " " + (ref.operators[leaf.operator] || leaf.operator) + " " + shown;
  }

  function summaryLines(ref, nodes, depth, out) {
    nodes.forEach(function (node) {
      if (node.type === "group") {
        out.push({ uid: node.uid, depth: depth, text: node.logic + ": " + (node.logic === "AND" ? "all of" : "any of") });
        summaryLines(ref, node.children, depth + 1, out);
      } else {
        out.push({ uid: node.uid, depth: depth, text: leafWords(ref, node) });
      }
    });
    return out;
  }

  document.addEventListener("alpine:init", function () {
    window.Alpine.data("ruleBuilder", function () {
      var boot = JSON.parse(document.getElementById("rule-builder-data").textContent);
      var ref = boot.reference;
      var d = boot.definition;
      var schedule = d.schedule || {};
      var ab = d.ab_test || {};
      var firstType = Object.keys(ref.types)[0];
      return {
        ref: ref,
        step: 1,
        steps: ["Basics", "Conditions", "Actions", "Schedule & A/B", "Review & test"],
        name: d.name || "",
        description: d.description || "",
        priority: d.priority === null || d.priority === undefined ? "" : String(d.priority),
        isActive: d.is_active !== false,
        isDefault: Boolean(d.is_default),
        conditions: (d.conditions || []).map(function (n) { return nodeFromStored(ref, n); }),
        actions: (d.actions || []).map(function (a) { return actionFromStored(ref, a); }),
        scheduleOn: Boolean(d.schedule),
        startsAt: localDateTime(schedule.starts_at),
        endsAt: localDateTime(schedule.ends_at),
        days: (schedule.days_of_week || []).slice(),
        windows: (schedule.windows || []).map(function (w) {
          return { uid: nextUid(), start: String(w.start).slice(0, 5), end: String(w.end).slice(0, 5) };
        }),
        abOn: Boolean(d.ab_test),
        abShare: ab.share ? String(Math.round(ab.share * 1000) / 10) : "10",
        abSplitBy: ab.split_by || "transaction",
        abActions: (ab.actions || []).map(function (a) { return actionFromStored(ref, a); }),
        newActionType: Object.keys(ref.actions)[0],
        newAbActionType: Object.keys(ref.actions)[0],
        errors: {},
        message: "",
        saving: false,
        testing: false,
        sample: { amount: "100.00", currency: "USD", country: "DE", issuing_country: "DE", card_brand: "visa", card_type: "credit", bin: "" },

        // steps
        goTo: function (n) { this.step = n; },
        next: function () { if (this.step < 5) { this.step += 1; } },
        back: function () { if (this.step > 1) { this.step -= 1; } },
        isStep: function (n) { return this.step === n; },
        stepClass: function (n) {
          var bad = this.stepHasError(n) ? " has-error" : "";
          return (this.step === n ? "current" : (this.step > n ? "done" : "")) + bad;
        },
        stepHasError: function (n) {
          return Object.keys(this.errors).some(function (path) { return STEP_OF[path.split(".")[0]] === n; });
        },

        // lookups for the template
        typeList: function () {
          return Object.keys(ref.types).map(function (t) { return [t, ref.types[t]]; });
        },
        fieldsOf: function (node) {
          var fields = ref.catalog[node.type] || {};
          return Object.keys(fields).map(function (f) { return [f, fields[f].label]; });
        },
        operatorsOf: function (node) {
          var s = spec(ref, node);
          return (s ? s.operators : []).map(function (o) { return [o, ref.operators[o]]; });
        },
        inputOf: function (node) { var s = spec(ref, node); return s ? s.input : "text"; },
        optionsOf: function (node) {
          var input = this.inputOf(node);
          if (input === "country") { return ref.countries; }
          if (input === "currency") { return ref.currencies.map(function (c) { return [c, c]; }); }
          return ((spec(ref, node) || {}).options || []).map(function (o) { return [o, o]; });
        },
        mode: function (node) {
          if (node.operator === "is") { return "bool"; }
          if (node.operator === "in_tier") { return "tier"; }
          if (node.operator === "between") { return "range"; }
          var picker = PICKERS.indexOf(this.inputOf(node)) >= 0;
          if (MULTI.indexOf(node.operator) >= 0) { return picker ? "multi" : "list"; }
          return picker ? "pick" : "single";
        },
        htmlType: function (node) {
          var input = this.inputOf(node);
          if (input === "int" || input === "rate") { return "number"; }
          if (input === "date") { return "date"; }
          return "text";
        },
        hasParam: function (node, name) { return hasParam(ref, node, name); },
        isOn: function (node, value) { return node.values.indexOf(value) >= 0; },
        canNest: function (depth) { return depth < 4; },

        // editing conditions
        addLeaf: function (list) { list.push(blankLeaf(ref, firstType)); },
        addGroup: function (list) {
          list.push({ uid: nextUid(), type: "group", logic: "OR", children: [blankLeaf(ref, firstType)] });
        },
        removeAt: function (list, index) { list.splice(index, 1); },
        setLogic: function (group, logic) { group.logic = logic; },
        logicClass: function (group, logic) { return group.logic === logic ? "button small primary" : "button small ghost"; },
        onTypeChange: function (node) {
          node.field = Object.keys(ref.catalog[node.type])[0];
          this.onFieldChange(node);
        },
        onFieldChange: function (node) {
          node.operator = spec(ref, node).operators[0];
          this.onOperatorChange(node);
        },
        onOperatorChange: function (node) {
          node.value = node.operator === "is" ? "true" : (node.operator === "in_tier" ? ref.tiers[0] : "");
          node.values = [];
          node.low = "";
          node.high = "";
        },

        // editing actions
        fieldsOfAction: function (action) { return ref.actions[action.type] || []; },
        actionTypes: function () { return Object.keys(ref.actions); },
        actionLabel: function (type) { return ref.action_labels[type] || type; },
        addAction: function () { this.actions.push(blankAction(ref, this.newActionType)); },
        addAbAction: function () { this.abActions.push(blankAction(ref, this.newAbActionType)); },
        moveUp: function (list, index) {
          if (index > 0) { var item = list.splice(index, 1)[0]; list.splice(index - 1, 0, item); }
        },
        targetOptions: function (f) {
          if (f.input === "pool") { return ref.pools; }
          if (f.input === "account") { return ref.accounts; }
          if (f.input === "strategy") { return [["", "the pool's own"]].concat(ref.strategies.map(function (s) { return [s, s]; })); }
          if (f.input === "currency") { return [["", "the transaction's"]].concat(ref.currencies.map(function (c) { return [c, c]; })); }
          return (f.options || []).map(function (o) { return [o, o]; });
        },
        isSelect: function (f) { return ["pool", "account", "strategy", "currency", "choice"].indexOf(f.input) >= 0; },
        isText: function (f) { return ["text", "decimal", "money", "list"].indexOf(f.input) >= 0; },

        // schedule
        addWindow: function () { this.windows.push({ uid: nextUid(), start: "09:00", end: "17:00" }); },
        hasDay: function (day) { return this.days.indexOf(day) >= 0; },
        toggleDay: function (day) {
          var at = this.days.indexOf(day);
          if (at >= 0) { this.days.splice(at, 1); } else { this.days.push(day); }
        },

        // errors: the service answers the first problem; an edit makes it stale
        touched: function () { this.errors = {}; this.message = ""; },
        errorAt: function (path) { return this.errors[path] || ""; },
        errorsUnder: function (path) {
          var errors = this.errors;
          return Object.keys(errors).filter(function (key) {
            return key === path || (key.indexOf(path + ".") === 0 && key.indexOf(".children.", path.length) < 0);
          }).map(function (key) { return errors[key]; }).join("; ");
        },
        otherErrors: function () {
          var errors = this.errors;
          return Object.keys(errors).filter(function (key) { return !STEP_OF[key.split(".")[0]]; })
            .map(function (key) { return errors[key]; });
        },

        // review
        summary: function () { return summaryLines(ref, this.conditions, 0, []); },
        actionSummary: function (list) {
          var names = {};
          ref.pools.concat(ref.accounts).forEach(function (pair) { names[pair[0]] = pair[1]; });
          return list.map(function (a) {
            var json = actionToJson(ref, a);
            var parts = Object.keys(json).filter(function (k) { return k !== "type"; })
              .map(function (k) {
                var shown = typeof json[k] === "object" ? JSON.stringify(json[k]) : (names[json[k]] || json[k]);
                return k.replace(/_id$/, "").replace(/_/g, " ") + ": " + shown;
              });
            return a.type.replace(/_/g, " ") + (parts.length ? " (" + parts.join(", ") + ")" : "");
          });
        },
        indent: function (line) { return "padding-left: " + (line.depth * 1.25) + "rem"; },

        // the JSON the service takes
        payload: function () {
          var body = {
            name: this.name,
            description: this.description.trim() || null,
            priority: isInt(this.priority) ? parseInt(this.priority, 10) : (String(this.priority).trim() ? this.priority : null),
            is_active: this.isActive,
            is_default: this.isDefault,
            conditions: this.conditions.map(function (n) { return nodeToJson(ref, n); }),
            actions: this.actions.map(function (a) { return actionToJson(ref, a); }),
            schedule: null,
            ab_test: null,
          };
          if (this.scheduleOn) {
            body.schedule = {
              starts_at: utcInstant(this.startsAt),
              ends_at: utcInstant(this.endsAt),
              days_of_week: this.days.length ? this.days.slice() : null,
              windows: this.windows.map(function (w) { return { start: w.start, end: w.end }; }),
            };
          }
          if (this.abOn) {
            body.ab_test = {
              share: isNumber(this.abShare) ? parseFloat(this.abShare) / 100 : this.abShare,
              split_by: this.abSplitBy,
              actions: this.abActions.map(function (a) { return actionToJson(ref, a); }),
            };
          }
          return body;
        },

        post: function (url, body) {
          return fetch(url, {
            method: "POST",
            credentials: "same-origin",
            headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
            body: JSON.stringify(body),
          });
        },

        save: function () {
          var self = this;
          var body = this.payload();
          if (!boot.rule_id) { body.company_id = boot.company_id; }
          self.saving = true;
          self.message = "";
          self.post(boot.save_url, body).then(function (response) {
            var json = response.headers.get("content-type").indexOf("json") >= 0 ? response.json() : Promise.resolve(null);
            return json.then(function (data) { return { ok: response.ok, data: data, status: response.status }; });
          }).then(function (answer) {
            self.saving = false;
            if (answer.ok) { window.location.assign(answer.data.url); return; }
            self.errors = (answer.data && answer.data.errors) || {};
            if (!answer.data) { self.message = "The rule was not saved (" + answer.status + "). Reload the page and try again."; return; }
            self.message = "The rule was not saved: fix the highlighted fields.";
            var first = Object.keys(self.errors)[0] || "";
            var step = STEP_OF[first.split(".")[0]];
            if (step) { self.step = step; }
          }).catch(function () {
            self.saving = false;
            self.message = "The rule could not be sent; check your connection and try again.";
          });
        },

        runTest: function () {
          var self = this;
          self.testing = true;
          self.post(boot.test_url, { company_id: boot.company_id, rule: self.payload(), sample: self.sample })
            .then(function (response) { return response.text(); })
            .then(function (html) { self.testing = false; self.$refs.testResult.innerHTML = html; })
            .catch(function () { self.testing = false; self.$refs.testResult.textContent = "The test could not run; try again."; });
        },
      };
    });
  });
})();
