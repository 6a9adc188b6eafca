/* The live-session waiting room: send the presence heartbeat every 20 s, and go to the conversation
   (or show why not) when the pairing happens. The page works without this file (the "I'm here" button). */
(function () {
  "use strict";
  var room = document.getElementById("live-room");
  if (!room || !room.dataset.heartbeat) { return; }
  var status = document.getElementById("live-status");

  function say(text) {
    if (!status) { return; }
    status.textContent = "";
    var line = document.createElement("p");
    line.textContent = text;
    status.appendChild(line);
  }

  function safe(url) {
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/";
  }

  function beat() {
    var body = new URLSearchParams();
    body.append("csrf_token", room.dataset.csrf);
    fetch(room.dataset.heartbeat, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (answer) {
      return answer.json().then(function (data) {
        if (answer.ok) { say("We know you're here. Keep this page open."); }
        else if (data && data.status && data.status !== "open") { window.location.reload(); }
        else if (data && data.error) { say(data.error); }
      });
    }).catch(function () { say("Connection trouble: we will try again in a moment."); });
  }

  beat();
  window.setInterval(beat, 20000);

  if (typeof window.io === "function") {
    var socket = window.io({ transports: ["websocket", "polling"] });
    socket.on("live_paired", function (data) {
      if (data && safe(data.url)) { window.location.assign(data.url); }
    });
    socket.on("live_left_over", function () { window.location.reload(); });
  }
}());
