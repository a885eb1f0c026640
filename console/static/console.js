// antre operations console: keyboard shortcuts of the counter terminal, and the CSRF token on
// every htmx request.  No polling: the pages are updated by server-sent events (htmx sse extension).
"use strict";
document.addEventListener("htmx:configRequest", function (event) {
  var token = document.body.getAttribute("data-csrf");
  if (token) { event.detail.headers["X-CSRF-Token"] = token; }
  // a counter action names the ticket on screen when it was clicked: the central refuses it
  // (not_current) if the gerai serves another by then, so it never lands on an unseen citizen
  var shown = document.getElementById("current-ticket");
  var elt = event.detail.elt;
  if (shown && elt && elt.closest && elt.closest("#counter-actions")) {
    event.detail.parameters["expect"] = shown.getAttribute("data-ticket") || "-";
  }
});
document.addEventListener("submit", function (event) {
  // without htmx (a plain form post): the same, through the form's hidden field
  var shown = document.getElementById("current-ticket");
  var form = event.target;
  if (shown && form && form.closest && form.closest("#counter-actions") && form.elements["expect"]) {
    form.elements["expect"].value = shown.getAttribute("data-ticket") || "-";
  }
}, true);
document.addEventListener("keydown", function (event) {
  if (event.ctrlKey || event.altKey || event.metaKey || event.repeat) { return; }
  var target = event.target;
  var tag = target && target.tagName ? target.tagName.toLowerCase() : "";
  if (tag === "input" || tag === "select" || tag === "textarea" || (target && target.isContentEditable)) {
    if (event.key === "Escape" && target.blur) { target.blur(); }
    return;
  }
  var key = event.key.toLowerCase();
  var el = document.querySelector('[data-key="' + key + '"]');
  if (!el) { return; }
  event.preventDefault();
  if (el.tagName.toLowerCase() === "button") { el.click(); } else { el.focus(); }
});
