/* DuckMail Filters: progressive enhancement for the rule editor and the raw script editor.
 *
 * Without this script every page still works: the rule form shows all fields and its
 * "Add a condition/action" buttons ask the server for one more row.
 * With it, each condition/action row shows only the fields that apply to what is chosen,
 * the operator list offers only operators that apply, and rows are added in the page.
 * No build step: plain ES2017, served as is.
 */
(function () {
  "use strict";

  // Which operators and inputs apply to which field and action: the server's vocabulary,
  // rendered into the rule page as JSON (filters.forms.rule_editor_vocabulary), so that
  // it is defined once. Set when the rule form is set up.
  var vocabulary = null;

  function input(row, name) {
    return row.querySelector('[name$="-' + name + '"]');
  }

  function show(row, name, visible) {
    var el = input(row, name);
    var box = el && el.closest(".field");
    if (!box) return;
    // A field with an error stays visible, whatever is chosen.
    box.hidden = !visible && !box.classList.contains("has-error");
  }

  function updateCondition(row) {
    var field = input(row, "field").value;
    var spec = vocabulary.fields[field] || vocabulary.fields[""];
    var op = input(row, "op");
    var value = input(row, "value");
    var allowed = spec.ops;
    Array.prototype.forEach.call(op.options, function (o) {
      var ok = allowed.indexOf(o.value) !== -1;
      o.hidden = !ok;
      o.disabled = !ok;
    });
    if (allowed.indexOf(op.value) === -1) op.value = allowed[0];
    show(row, "header", spec.header);
    show(row, "part", spec.parts.length > 0);
    show(row, "op", field !== "");
    show(row, "value", field !== "" && spec.value);
    var part = input(row, "part");
    if (part) {
      Array.prototype.forEach.call(part.options, function (o) {
        var ok = spec.parts.indexOf(o.value) !== -1;
        o.hidden = !ok;
        o.disabled = !ok;
      });
      if (spec.parts.length && spec.parts.indexOf(part.value) === -1) part.value = spec.parts[0];
    }
    value.placeholder = spec.placeholder;
    value.inputMode = spec.inputmode;
  }

  function updateAction(row) {
    var arg = vocabulary.actions[input(row, "kind").value];
    show(row, "folder", arg === "folder");
    show(row, "address", arg === "address");
    show(row, "text", arg === "text");
    show(row, "flags", arg === "flags");
    show(row, "create", arg === "folder");
  }

  function update(row) {
    if (row.classList.contains("condition")) updateCondition(row);
    else if (row.classList.contains("action")) updateAction(row);
  }

  function addRow(fieldset) {
    var prefix = fieldset.dataset.prefix;
    var total = fieldset.querySelector('input[name="' + prefix + '-TOTAL_FORMS"]');
    var count = parseInt(total.value, 10) || 0;
    var max = parseInt(fieldset.dataset.max, 10) || 20;
    if (count >= max) return;
    var html = fieldset.querySelector("template.empty-row").innerHTML.replace(/__prefix__/g, String(count));
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    var row = holder.firstElementChild;
    fieldset.querySelector(".rows").appendChild(row);
    total.value = String(count + 1);
    update(row);
    row.querySelector("select").focus();
    if (count + 1 >= max) fieldset.querySelector("button.add-row").disabled = true;
  }

  function setUpRuleForm(form) {
    vocabulary = JSON.parse(document.getElementById("rule-vocabulary").textContent);
    form.querySelectorAll(".rule-row").forEach(update);
    form.addEventListener("change", function (event) {
      var row = event.target.closest(".rule-row");
      if (row && /-(field|kind)$/.test(event.target.name)) update(row);
    });
    form.querySelectorAll("fieldset.rule-rows button.add-row").forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();  // no round trip: the row is added here
        addRow(button.closest("fieldset"));
      });
    });
  }

  // Raw editor: put the cursor on the line the server complained about.
  function setUpScriptForm(textarea) {
    var line = parseInt(textarea.dataset.errorLine, 10);
    if (!line) return;
    var lines = textarea.value.split("\n");
    var start = lines.slice(0, line - 1).join("\n").length + (line > 1 ? 1 : 0);
    var end = start + (lines[line - 1] || "").length;
    textarea.focus();
    textarea.setSelectionRange(start, end);
    var lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 20;
    textarea.scrollTop = Math.max(0, (line - 3) * lineHeight);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var ruleForm = document.getElementById("rule-form");
    if (ruleForm) setUpRuleForm(ruleForm);
    var script = document.querySelector("textarea[data-error-line]");
    if (script) setUpScriptForm(script);
  });
}());
