/* Live notifications: when someone invites you (or answers you) while a page is open, say so in a
   polite live region with a link. Pages work without this file; it only adds the live message. */
(function () {
  "use strict";
  if (typeof window.io !== "function") { return; }

  var region = document.createElement("div");
  region.className = "container flashes live-notifications";
  region.setAttribute("role", "status");
  region.setAttribute("aria-live", "polite");
  var main = document.getElementById("main");
  (main || document.body).insertBefore(region, main ? main.firstChild : null);

  function show(text, linkText, url) {
    var message = document.createElement("p");
    message.className = "flash";
    message.appendChild(document.createTextNode(text + " "));
    if (url && url.charAt(0) === "/" && url.charAt(1) !== "/") {
      var link = document.createElement("a");
      link.href = url;
      link.textContent = linkText;
      message.appendChild(link);
    }
    region.appendChild(message);
  }

  function nameOf(profile) {
    return (profile && typeof profile.name === "string" && profile.name) || "A participant";
  }

  var socket = window.io({ transports: ["websocket", "polling"] });
  window.ossSocket = socket;  // other page scripts (the room) share this connection
  socket.on("invitation", function (data) {
    show(nameOf(data && data.inviter) + " would like to talk with you.", "See the invitation", data && data.url);
  });
  socket.on("standby_match", function (data) {
    var partner = (data && typeof data.partner === "string" && data.partner) || "A participant";
    show(partner + " is ready to talk with you now.", "Join the conversation", data && data.url);
  });
  socket.on("match", function (data) {
    show("You and " + nameOf(data && data.partner) + " are matched.", "See the details", data && data.url);
  });
}());
