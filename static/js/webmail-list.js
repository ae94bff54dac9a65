// The message list's helpers, on top of forms that work without them (the Content-Security-
// Policy allows no inline script, no inline style, no eval):
// - selection: shift-click for a range, a page-wide checkbox, and the "Select all N in this
//   folder" banner (it ticks the form's `all` checkbox: the server then acts on a UID range);
// - drag-and-drop of the selected rows (or the dragged one) onto a sidebar folder: a move,
//   sent by the toolbar's own Move button;
// - the poll for new mail (htmx, templates/webmail/folder.html) only while the tab is
//   visible, at once when it becomes visible again, and the page title it brings.

(() => {
  const form = document.getElementById("mail-actions");
  if (!form) return;

  const boxes = () => Array.from(document.querySelectorAll('input[type=checkbox][name=uid][form="mail-actions"]'));
  const all = document.getElementById("mail-all");
  const pageBox = document.getElementById("mail-select-page");
  const pageBanner = document.getElementById("mail-all-page");
  const folderBanner = document.getElementById("mail-all-folder");
  const counter = document.getElementById("mail-selected-count");
  const total = Number(form.dataset.total || 0);
  let last = null;

  // With JavaScript the page-wide checkbox and the banner replace the plain "all" checkbox.
  if (pageBox) pageBox.closest("label").hidden = false;
  if (all) all.closest("label").hidden = true;

  function update() {
    const list = boxes();
    const checked = list.filter((box) => box.checked);
    list.forEach((box) => {
      const row = box.closest("li[data-uid]");
      if (row) row.classList.toggle("selected", box.checked);
    });
    const whole = list.length > 0 && checked.length === list.length;
    if (pageBox) {
      pageBox.checked = whole;
      pageBox.indeterminate = checked.length > 0 && !whole;
    }
    if (all && all.checked && !whole) all.checked = false;
    const folderWide = Boolean(all && all.checked);
    if (pageBanner) {
      pageBanner.hidden = folderWide || !whole || total <= list.length;
      const count = pageBanner.querySelector("[data-page-count]");
      if (count) count.textContent = String(list.length);
    }
    if (folderBanner) folderBanner.hidden = !folderWide;
    if (counter) {
      counter.textContent = folderWide ? `${form.dataset.totalText} selected`
        : checked.length ? `${checked.length} selected` : "";
    }
  }

  document.addEventListener("click", (event) => {
    const box = event.target.closest && event.target.closest('input[type=checkbox][name=uid][form="mail-actions"]');
    if (box) {
      const list = boxes();
      const here = list.indexOf(box);
      if (event.shiftKey && last !== null && list[last] && here >= 0) {
        const [from, to] = here < last ? [here, last] : [last, here];
        for (let i = from; i <= to; i += 1) list[i].checked = box.checked;
      }
      last = here;
      update();
      return;
    }
    if (event.target.closest("[data-select-all]")) {
      if (all) all.checked = true;
      boxes().forEach((b) => { b.checked = true; });
      update();
    } else if (event.target.closest("[data-clear-selection]")) {
      if (all) all.checked = false;
      boxes().forEach((b) => { b.checked = false; });
      update();
    }
  });

  // Keyboard (another script ticks boxes with .click(), which comes here too) and restored state.
  document.addEventListener("change", (event) => {
    if (event.target === pageBox) {
      boxes().forEach((b) => { b.checked = pageBox.checked; });
      if (!pageBox.checked && all) all.checked = false;
      update();
    } else if (event.target.matches && event.target.matches('input[type=checkbox][name=uid]')) {
      update();
    }
  });
  window.addEventListener("pageshow", update);
  update();

  // -- drag-and-drop onto a folder of the sidebar --
  let dragged = null;
  const moveButton = () => form.querySelector("button[name=action][value=move]");
  const target = () => form.querySelector("select[name=target]");
  const dropFolder = (node) => {
    const item = node && node.closest && node.closest("#mail-folders li[data-folder]");
    const select = target();
    if (!item || !select) return null;
    const name = item.dataset.folder;
    // Only folders that can take mail are offered in the toolbar's list (not this one).
    return Array.from(select.options).some((o) => o.value === name && name !== "") ? item : null;
  };

  document.addEventListener("dragstart", (event) => {
    const row = event.target.closest && event.target.closest(".mail-list li[data-uid]");
    if (!row) return;
    const box = row.querySelector('input[type=checkbox][name=uid]');
    dragged = { row, box, selected: Boolean(box && box.checked) };
    const count = dragged.selected ? (all && all.checked ? form.dataset.totalText : boxes().filter((b) => b.checked).length) : 1;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", `${count} message${count === 1 ? "" : "s"}`);
    document.body.classList.add("mail-dragging");
  });

  document.addEventListener("dragend", () => {
    dragged = null;
    document.body.classList.remove("mail-dragging");
    document.querySelectorAll("#mail-folders li.drop-target").forEach((li) => li.classList.remove("drop-target"));
  });

  document.addEventListener("dragover", (event) => {
    if (!dragged) return;
    const item = dropFolder(event.target);
    if (!item) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    item.classList.add("drop-target");
  });

  document.addEventListener("dragleave", (event) => {
    const item = event.target.closest && event.target.closest("#mail-folders li[data-folder]");
    if (item && !item.contains(event.relatedTarget)) item.classList.remove("drop-target");
  });

  document.addEventListener("drop", (event) => {
    if (!dragged) return;
    const item = dropFolder(event.target);
    if (!item) return;
    event.preventDefault();
    const { box, selected } = dragged;
    dragged = null;
    if (!selected) {
      // The dragged row alone, whatever else was ticked.
      if (all) all.checked = false;
      boxes().forEach((b) => { b.checked = b === box; });
    }
    target().value = item.dataset.folder;
    const button = moveButton();
    if (button && form.requestSubmit) form.requestSubmit(button);
    else if (button) button.click();
  });

  // -- the poll for new mail --
  const poller = document.getElementById("mail-poll");
  if (poller) {
    document.addEventListener("htmx:beforeRequest", (event) => {
      if (event.detail && event.detail.elt === poller && document.visibilityState !== "visible") event.preventDefault();
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") poller.dispatchEvent(new Event("mailvisible"));
    });
    document.addEventListener("htmx:afterSwap", () => {
      const news = document.getElementById("mail-news");
      if (news && news.dataset.title) document.title = news.dataset.title;
    });
  }

  // The toast's Undo lasts as long as the server keeps it: then the button goes.
  const toast = document.getElementById("mail-toast");
  const undo = toast && toast.querySelector("form.mail-undo");
  if (undo) {
    window.setTimeout(() => { undo.hidden = true; }, Number(toast.dataset.seconds || 300) * 1000);
  }
})();
