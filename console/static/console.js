// antre operations console: keyboard shortcuts of the counter terminal, the CSRF token on every
// htmx request, and what the page says when the console itself does not answer (its live stream
// broke, a request failed or timed out).  No polling: the pages are updated by server-sent events
// (htmx sse extension), which reconnect by themselves.
"use strict";
function consoleDown(down) {
  var banner = document.getElementById("console-banner");
  if (banner) { banner.hidden = !down; }
  document.body.classList.toggle("console-down", down);
}
function requestFailed(event) {
  // a click that got no answer: say so where the answer would have been
  var elt = event.detail && event.detail.elt;
  var box = (elt && elt.closest && elt.closest("#counter-actions")) ? document.getElementById("reply") : null;
  box = box || document.getElementById("flash");
  if (!box) { return; }
  var p = document.createElement("p");
  p.className = "flash bad";
  p.setAttribute("role", "alert");
  p.id = "no-answer";
  p.textContent = "Konsol tidak menjawab: perintah mungkin tidak terkirim. Periksa keadaan gerai, lalu coba lagi " +
    "(atau pakai tombol fisik).";
  box.replaceChildren(p);
  consoleDown(true);
}
document.addEventListener("htmx:sseError", function () { consoleDown(true); });
document.addEventListener("htmx:sseOpen", function () { consoleDown(false); });
document.addEventListener("htmx:sendError", requestFailed);
document.addEventListener("htmx:timeout", requestFailed);
document.addEventListener("htmx:afterRequest", function (event) {
  if (event.detail && event.detail.xhr && event.detail.xhr.status > 0) { consoleDown(false); }
});
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
