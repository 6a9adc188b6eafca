/* The idle warning (WCAG 2.2.1): a while before an idle timeout would sign the person out, a dialog says so
   and offers "Stay signed in" (a POST with the CSRF token). The deadline comes from the server
   (/session/status, which does not count as activity), so other tabs, a conversation's room and a
   remembered device are taken into account. Pages work without this file. */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || typeof window.fetch !== "function") { return; }
  var statusUrl = me.getAttribute("data-status-url");
  var extendUrl = me.getAttribute("data-extend-url");
  var loginUrl = me.getAttribute("data-login-url");
  var csrfToken = me.getAttribute("data-csrf-token");
  var timer = null;
  var ticker = null;
  var deadline = 0;
  var dialog = null;
  var returnFocus = null;

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds >= 90) { return Math.round(seconds / 60) + " minutes"; }
    if (seconds >= 60) { return "1 minute"; }
    return seconds + (seconds === 1 ? " second" : " seconds");
  }

  function build() {
    dialog = element("dialog", { "class": "session-dialog", role: "alertdialog", "aria-modal": "true",
                                 "aria-labelledby": "session-dialog-heading",
                                 "aria-describedby": "session-dialog-text" });
    dialog.appendChild(element("h2", { id: "session-dialog-heading" }));
    dialog.appendChild(element("p", { id: "session-dialog-text" }));
    dialog.appendChild(element("div", { "class": "session-dialog-actions" }));
    dialog.addEventListener("cancel", function (event) {  // Escape: the same as the main button
      event.preventDefault();
      var button = dialog.querySelector("button");
      if (button) { button.click(); }
    });
    document.body.appendChild(dialog);
  }

  function fill(heading, text, action) {
    if (!dialog) { build(); }
    dialog.querySelector("h2").textContent = heading;
    dialog.querySelector("p").textContent = text;
    var actions = dialog.querySelector(".session-dialog-actions");
    actions.textContent = "";
    actions.appendChild(action);
    if (!dialog.open) {
      returnFocus = document.activeElement;
      dialog.showModal();
    }
    action.focus();
  }

  function close() {
    window.clearInterval(ticker);
    ticker = null;
    if (dialog && dialog.open) {
      dialog.close();
      if (returnFocus && typeof returnFocus.focus === "function") { returnFocus.focus(); }
    }
  }

  function button(label, onClick) {
    var node = element("button", { type: "button", "class": "button" }, label);
    node.addEventListener("click", onClick);
    return node;
  }

  function warn(extendable) {
    var left = (deadline - Date.now()) / 1000;
    var text = extendable
      ? "You have not done anything here for a while, so to protect your account you will be signed out in "
        + duration(left) + ". Choose \u201cStay signed in\u201d to carry on."
      : "For your security, this sign-in ends in " + duration(left)
        + ". Finish what you are doing; you can sign in again straight after.";
    fill("Are you still there?", text,
         extendable ? button("Stay signed in", stay) : button("OK", function () { close(); }));
    if (!ticker) {
      ticker = window.setInterval(function () {
        var seconds = (deadline - Date.now()) / 1000;
        if (seconds <= 0) { window.clearInterval(ticker); ticker = null; return; }
        dialog.querySelector("p").textContent = dialog.querySelector("p").textContent
          .replace(/in \d+ (minutes?|seconds?)/, "in " + duration(seconds));
      }, 1000);
    }
  }

  function signedOut() {
    window.clearTimeout(timer);
    var next = window.location.pathname + window.location.search;
    var link = element("a", { "class": "button", href: loginUrl + "?next=" + encodeURIComponent(next) }, "Sign in again");
    window.clearInterval(ticker);
    ticker = null;
    fill("You have been signed out",
         "To protect your account, you were signed out after a time without activity. Anything you had not "
         + "saved on this page is not kept.", link);
  }

  function schedule(status) {
    window.clearTimeout(timer);
    if (!status || status.signed_in !== true) { signedOut(); return; }
    deadline = Date.now() + status.seconds_left * 1000;
    var warnIn = status.seconds_left - status.warning_seconds;
    if (!status.warn) {  // in a conversation's room, or a remembered device: nobody is signed out under them
      close();
      timer = window.setTimeout(check, Math.max(30, Math.min(300, warnIn)) * 1000);
    } else if (warnIn > 0) {
      close();
      timer = window.setTimeout(check, warnIn * 1000);
    } else {
      warn(status.extendable);
      timer = window.setTimeout(check, Math.max(1, status.seconds_left) * 1000 + 500);
    }
  }

  function check() {
    window.fetch(statusUrl, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) { if (status) { schedule(status); } else { retry(); } }, retry);
  }

  function retry() {  // offline for a moment: try again soon, the server decides anyway
    window.clearTimeout(timer);
    timer = window.setTimeout(check, 15000);
  }

  function stay() {
    window.fetch(extendUrl, { method: "POST", credentials: "same-origin", cache: "no-store",
                              headers: { "X-CSRFToken": csrfToken, Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(schedule, check);
  }

  check();
}());
