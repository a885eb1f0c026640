// antre operations console: keyboard shortcuts of the counter terminal, and the CSRF token on
// every htmx request.  No polling: the pages are updated by server-sent events (htmx sse extension).
"use strict";
document.addEventListener("htmx:configRequest", function (event) {
  var token = document.body.getAttribute("data-csrf");
  if (token) { event.detail.headers["X-CSRF-Token"] = token; }
});
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
