/* DuckMail webmail, reading view: "mark as read after N seconds".
 *
 * The page holds the "Mark as read" form (<form data-mark-read-after="N">), which works as
 * a plain POST without this script. With it, the form is sent by itself once the page has
 * been visible for N seconds (time in a background tab does not count), and then hidden.
 * Plain ES2017, no inline script (the site's Content-Security-Policy allows none).
 */
(function () {
  "use strict";

  var form = document.querySelector("form[data-mark-read-after]");
  if (!form || !window.fetch || !window.FormData) return;
  var remaining = parseInt(form.dataset.markReadAfter, 10) * 1000;
  if (!(remaining > 0)) return;
  var timer = null;
  var startedAt = 0;
  var sent = false;

  function send() {
    timer = null;
    if (sent) return;
    sent = true;
    // The form's own fields carry the CSRF token.
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-Requested-With": "XMLHttpRequest" },
    }).then(function (response) {
      if (response.ok) {
        form.hidden = true;
      } else {
        sent = false; // the button still works
      }
    }, function () {
      sent = false;
    });
  }

  function start() {
    if (timer !== null || sent) return;
    if (remaining <= 0) {
      send();
      return;
    }
    startedAt = Date.now();
    timer = window.setTimeout(send, remaining);
  }

  function pause() {
    if (timer === null) return;
    window.clearTimeout(timer);
    timer = null;
    remaining -= Date.now() - startedAt;
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") {
      start();
    } else {
      pause();
    }
  });
  if (document.visibilityState === "visible") start();
})();
