/* The ticket page: follows the ticket over server-sent events and rings when the citizen is nearly up.
   No library, no polling. Browsers play sound only after a tap: the "Aktifkan suara" button. */
(function () {
  "use strict";
  var main = document.getElementById("ticket");
  if (!main) { return; }
  var live = main.getAttribute("data-live");
  var box = document.getElementById("alert-box");
  var button = document.getElementById("sound-on");
  var hint = document.getElementById("sound-hint");
  var audio = null;
  var baseTitle = document.title;

  function state() { return document.getElementById("state"); }
  function attr(el, name) { return el ? el.getAttribute(name) : ""; }

  function beep(times) {
    if (!audio) { return; }
    var t = audio.currentTime + 0.02;
    for (var i = 0; i < times; i += 1) {
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = i % 2 ? 660 : 880;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.6, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start(t);
      osc.stop(t + 0.32);
      t += 0.42;
    }
  }

  function buzz(pattern) {
    if (navigator.vibrate) {
      try { navigator.vibrate(pattern); } catch (e) { /* not allowed yet */ }
    }
  }

  function notify(stage) {
    if (stage === "almost") {
      beep(2);
      buzz([250, 120, 250]);
      document.title = "Hampir giliran Anda - " + baseTitle;
    } else if (stage === "called") {
      beep(4);
      buzz([500, 150, 500, 150, 500]);
      document.title = "GILIRAN ANDA - " + baseTitle;
    }
  }

  function showBox() {
    var stage = attr(state(), "data-stage");
    if (box) { box.hidden = !(stage === "waiting" || stage === "almost" || stage === "called"); }
  }

  if (button) {
    button.addEventListener("click", function () {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (Ctx && !audio) {
        try { audio = new Ctx(); } catch (e) { audio = null; }
      }
      if (audio && audio.resume) { audio.resume(); }
      beep(1);
      buzz(120);
      button.textContent = "Suara aktif";
      button.className = "sound on";
      button.setAttribute("aria-pressed", "true");
      if (hint) { hint.textContent = "Ponsel akan berbunyi dan bergetar saat giliran Anda hampir tiba. Biarkan halaman ini terbuka."; }
    });
  }

  if (live && window.EventSource) {
    var source = new EventSource(live);
    source.addEventListener("ticket", function (event) {
      var holder = document.createElement("div");
      holder.innerHTML = event.data;
      var next = holder.firstElementChild;
      var current = state();
      if (!next || !current || attr(next, "data-key") === attr(current, "data-key")) { return; }
      var before = attr(current, "data-stage");
      var recalls = attr(current, "data-recalls");
      current.parentNode.replaceChild(next, current);
      var after = attr(next, "data-stage");
      if (after !== before || (after === "called" && attr(next, "data-recalls") !== recalls)) { notify(after); }
      showBox();
      main.setAttribute("data-updated", String(Date.now()));
    });
    source.addEventListener("end", function () { source.close(); });
  }
  showBox();
}());
