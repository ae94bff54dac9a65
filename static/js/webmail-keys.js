// The webmail's keyboard shortcuts, and the "?" overlay that lists them (#keys-help).
//
// Shortcuts only press what the page already offers to the mouse: a row's link, a toolbar
// button (button[name=action][value=…] of the list or of the reading view), a link marked
// data-key="…". So a shortcut never does anything the page could not do without it, and a
// page without that button simply ignores the key. Keys are ignored while typing in a field.

(() => {
  const rows = () => Array.from(document.querySelectorAll(".mail-list li[data-uid]"));
  let current = -1;

  function focusRow(index) {
    const all = rows();
    if (!all.length) return;
    current = Math.max(0, Math.min(all.length - 1, index));
    all.forEach((row, i) => row.classList.toggle("key-current", i === current));
    const link = all[current].querySelector("a[href]");
    if (link) link.focus({ preventScroll: false });
  }

  function currentRow() {
    const all = rows();
    const focused = document.activeElement && document.activeElement.closest(".mail-list li[data-uid]");
    if (focused) current = all.indexOf(focused);
    return current >= 0 ? all[current] : null;
  }

  // The action applies to the checked rows; with none checked, to the row under the cursor.
  function press(action) {
    const button = document.querySelector(`button[name=action][value="${action}"]`);
    if (!button || button.disabled) return false;
    const row = currentRow();
    const checked = document.querySelectorAll('input[type=checkbox][name=uid]:checked');
    if (!checked.length && row) {
      const box = row.querySelector('input[type=checkbox][name=uid]');
      if (box) box.checked = true;
    }
    button.click();
    return true;
  }

  function openRow() {
    const row = currentRow();
    const link = row && row.querySelector("a[href]");
    if (link) window.location.assign(link.href);
    return Boolean(link);
  }

  function follow(selector) {
    const link = document.querySelector(selector);
    if (link) window.location.assign(link.href);
    return Boolean(link);
  }

  function toggleHelp(show) {
    const help = document.getElementById("keys-help");
    if (!help) return false;
    if (show === false || help.open) help.close();
    else help.showModal();
    return true;
  }

  const keys = {
    "?": () => toggleHelp(),
    j: () => (rows().length ? (focusRow(current + 1), true) : follow("[data-key=next]")),
    ArrowDown: () => rows().length > 0 && (focusRow(current + 1), true),
    k: () => (rows().length ? (focusRow(current - 1), true) : follow("[data-key=previous]")),
    ArrowUp: () => rows().length > 0 && (focusRow(current - 1), true),
    o: () => openRow(),
    Enter: () => openRow(),
    x: () => {
      const row = currentRow();
      const box = row && row.querySelector('input[type=checkbox][name=uid]');
      if (!box) return false;
      box.click();
      return true;
    },
    u: () => follow("[data-key=back]"),
    r: () => follow("[data-key=reply]"),
    "#": () => press("delete"),
    Delete: () => press("delete"),
    e: () => press("archive"),
    "!": () => press("spam") || press("notspam"),
    s: () => press("flag") || press("unflag"),
    I: () => press("read"),
    U: () => press("unread"),
    "/": () => {
      const field = document.querySelector("[data-key=search]");
      if (!field) return false;
      field.focus();
      field.select();
      return true;
    },
    n: () => follow("[rel=next]"),
    p: () => follow("[rel=prev]"),
  };

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) {
      if (event.key === "Escape" && target.blur) target.blur();
      return;
    }
    const help = document.getElementById("keys-help");
    if (help && help.open && event.key !== "?") return; // the dialog closes itself on Escape
    // Enter on a focused link or button already does what it should.
    if (event.key === "Enter" && target.closest && target.closest("a, button")) return;
    const handler = Object.prototype.hasOwnProperty.call(keys, event.key) ? keys[event.key] : null;
    if (handler && handler()) event.preventDefault();
  });

  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-keys-help]")) {
      event.preventDefault();
      toggleHelp();
    }
  });
})();
