/* Passkeys (WebAuthn) for the sign-in and security pages: no inline script, no library.
 *
 * An element with data-passkey="sign-in" or data-passkey="register" holds the URLs (data-options-url,
 * data-url), the CSRF token (data-csrf), a start button (data-passkey-start), a status line
 * (data-passkey-status) and, to register, a name field (data-passkey-name). It stays hidden when the
 * browser has no WebAuthn. The server sends options with base64url strings; they become ArrayBuffers here,
 * and the browser's answer goes back with base64url strings again.
 */
(function () {
  "use strict";

  function toBytes(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) { base64 += "="; }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i += 1) { bytes[i] = binary.charCodeAt(i); }
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i += 1) { binary += String.fromCharCode(bytes[i]); }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json"},
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.status === 401 && data.redirect) {  // "Confirm it's you" first, then back here
          window.location.assign(data.redirect);
          return new Promise(function () {});
        }
        if (!response.ok && !data.error) { data.error = "The server could not answer (" + response.status + "). Try again."; }
        return data;
      });
    });
  }

  function creationOptions(options) {
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    (options.excludeCredentials || []).forEach(function (item) { item.id = toBytes(item.id); });
    return options;
  }

  function requestOptions(options) {
    options.challenge = toBytes(options.challenge);
    (options.allowCredentials || []).forEach(function (item) { item.id = toBytes(item.id); });
    return options;
  }

  function registrationJSON(credential) {
    var response = credential.response;
    return {
      id: credential.id, rawId: toBase64url(credential.rawId), type: credential.type,
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        attestationObject: toBase64url(response.attestationObject),
        transports: response.getTransports ? response.getTransports() : [],
      },
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
    };
  }

  function authenticationJSON(credential) {
    var response = credential.response;
    return {
      id: credential.id, rawId: toBase64url(credential.rawId), type: credential.type,
      response: {
        clientDataJSON: toBase64url(response.clientDataJSON),
        authenticatorData: toBase64url(response.authenticatorData),
        signature: toBase64url(response.signature),
        userHandle: response.userHandle ? toBase64url(response.userHandle) : undefined,
      },
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
    };
  }

  function setUp(box) {
    var kind = box.getAttribute("data-passkey");
    var button = box.querySelector("[data-passkey-start]");
    var status = box.querySelector("[data-passkey-status]");
    var csrf = box.getAttribute("data-csrf");
    function fail(message) {
      status.textContent = message;
      button.disabled = false;
    }
    button.addEventListener("click", function () {
      button.disabled = true;
      status.textContent = "";
      post(box.getAttribute("data-options-url"), csrf).then(function (options) {
        if (options.error) { throw new Error(options.error); }
        if (kind === "register") {
          return navigator.credentials.create({publicKey: creationOptions(options)}).then(function (credential) {
            var name = box.querySelector("[data-passkey-name]");
            return post(box.getAttribute("data-url"), csrf,
                        {credential: registrationJSON(credential), name: name ? name.value : ""});
          });
        }
        return navigator.credentials.get({publicKey: requestOptions(options)}).then(function (credential) {
          return post(box.getAttribute("data-url"), csrf,
                      {credential: authenticationJSON(credential), next: box.getAttribute("data-next") || ""});
        });
      }).then(function (result) {
        if (result.error) { throw new Error(result.error); }
        window.location.assign(result.redirect);
      }).catch(function (error) {
        if (error && error.name === "NotAllowedError") {
          fail("The passkey request was cancelled or timed out. Try again.");
        } else if (error && error.name === "InvalidStateError") {
          fail("This device already holds a passkey for your account.");
        } else {
          fail((error && error.message) || "The passkey did not work. Try again.");
        }
      });
    });
    box.hidden = false;
  }

  if (!window.PublicKeyCredential || !navigator.credentials) { return; }
  Array.prototype.forEach.call(document.querySelectorAll("[data-passkey]"), setUp);
}());
