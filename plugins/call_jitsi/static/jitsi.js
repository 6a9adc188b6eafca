/* The "jitsi" call adapter: a self-hosted Jitsi Meet in an iframe, driven by the Jitsi IFrame API.
 * payload (from the server): {domain, room, jwt, script_url?}. Contract: docs/call-providers.md. */
(function () {
  "use strict";

  var JOIN_TIMEOUT_MS = 45000;
  var REFUSED = /notAllowed|passwordRequired|authenticationRequired|tokenAuthFailed|membersOnly/i;

  function loadScript(url) {
    return new Promise(function (resolve, reject) {
      if (typeof window.JitsiMeetExternalAPI === "function") { resolve(); return; }
      var script = document.createElement("script");
      script.src = url;
      script.onload = function () { resolve(); };
      script.onerror = function () { reject(new Error("The Jitsi IFrame API could not be loaded from " + url + ".")); };
      document.head.appendChild(script);
    });
  }

  function errorText(event) {
    var error = (event && event.error) || event || {};
    return String(error.name || error.message || error.type || "unknown error");
  }

  OssCall.register("jitsi", function factory(payload, context) {
    var api = null;
    var audioOnly = !!context.audioOnly;
    var others = {};
    var mic = null;
    var pending = null;  // {resolve, reject, timer} while a join is under way
    var ready = payload.script_url ? loadScript(payload.script_url) : Promise.resolve();

    function status(state, detail) { context.setStatus(state, detail); }

    function othersCount() { return Object.keys(others).length; }

    function settle(error) {
      if (!pending) { return; }
      var done = pending;
      pending = null;
      clearTimeout(done.timer);
      if (error) { done.reject(error); } else { done.resolve(); }
    }

    function dispose() {
      if (api) {
        try { api.dispose(); } catch (ignored) { /* the iframe is gone already */ }
        api = null;
      }
      others = {};
      while (context.container.firstChild) { context.container.removeChild(context.container.firstChild); }
    }

    function openMicrophone() {
      // our own handle on the microphone for the page's recorder; the call's audio stays inside the iframe
      if (mic || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { return Promise.resolve(); }
      var audio = (context.mediaConstraints && context.mediaConstraints.audio) || true;
      return navigator.mediaDevices.getUserMedia({audio: audio, video: false}).then(function (stream) {
        mic = stream.getAudioTracks()[0] || null;
      }, function () { mic = null; });
    }

    function listen() {
      api.addEventListener("videoConferenceJoined", function () {
        status("connected", othersCount() ? "You are in the call." : "You are in the call; waiting for the others.");
        settle(null);
      });
      api.addEventListener("videoConferenceLeft", function () {
        status("disconnected", "You left the call.");
      });
      api.addEventListener("participantJoined", function (event) {
        others[event && event.id ? event.id : String(othersCount())] = true;
        status("connected", "Someone joined the call.");
      });
      api.addEventListener("participantLeft", function (event) {
        if (event && event.id) { delete others[event.id]; }
        status("connected", othersCount() ? "Someone left the call." : "The others left the call.");
      });
      api.addEventListener("audioMuteStatusChanged", function (event) {
        if (mic && event) { mic.enabled = !event.muted; }
      });
      api.addEventListener("readyToClose", function () {
        status("disconnected", "The call has ended.");
        dispose();
      });
      api.addEventListener("errorOccurred", function (event) {
        var text = errorText(event);
        var fatal = !event || !event.error || event.error.isFatal !== false;
        if (REFUSED.test(text)) {
          status("failed", "The call server did not accept this page's pass (it may have expired). Reload the page.");
          settle(new Error(text));
        } else if (fatal) {
          status("reconnecting", "The call was interrupted (" + text + "). Trying again…");
        }
      });
    }

    function join() {
      return ready.then(function () {
        var Api = window.JitsiMeetExternalAPI;
        if (typeof Api !== "function") { throw new Error("The Jitsi IFrame API is missing."); }
        dispose();
        status("connecting", "Connecting to the call…");
        return new Promise(function (resolve, reject) {
          pending = {resolve: resolve, reject: reject, timer: setTimeout(function () {
            status("failed", "The call server did not answer. Check your connection and try again.");
            settle(new Error("no answer from " + payload.domain));
          }, JOIN_TIMEOUT_MS)};
          api = new Api(payload.domain, {
            roomName: payload.room,
            jwt: payload.jwt,
            parentNode: context.container,
            width: "100%",
            height: "100%",
            userInfo: {displayName: context.me.name},
            configOverwrite: {
              prejoinPageEnabled: false,
              prejoinConfig: {enabled: false},
              startWithAudioMuted: false,
              startWithVideoMuted: audioOnly,
              disableDeepLinking: true,
              disableInviteFunctions: true,
              doNotStoreRoom: true,
              enableWelcomePage: false,
              enableClosePage: false,
              disableThirdPartyRequests: true,
              analytics: {disabled: true},
              fileRecordingsEnabled: false,
              liveStreamingEnabled: false,
              transcribingEnabled: false,
              readOnlyName: true,
              toolbarButtons: ["microphone", "camera", "tileview", "fullscreen", "settings", "hangup"]
            },
            interfaceConfigOverwrite: {
              SHOW_JITSI_WATERMARK: false,
              SHOW_WATERMARK_FOR_GUESTS: false,
              SHOW_BRAND_WATERMARK: false,
              SHOW_PROMOTIONAL_CLOSE_PAGE: false,
              MOBILE_APP_PROMO: false,
              TOOLBAR_BUTTONS: ["microphone", "camera", "tileview", "fullscreen", "settings", "hangup"]
            }
          });
          listen();
        });
      }).catch(function (error) {
        status("failed", error && error.message ? error.message : "The call could not start.");
        throw error;
      });
    }

    function setTrack(query, command, wanted) {
      if (!api) { return Promise.resolve(); }
      return api[query]().then(function (current) {
        if (api && Boolean(current) !== Boolean(wanted)) { api.executeCommand(command); }
      });
    }

    return {
      start: function () {
        return openMicrophone().then(join);
      },
      leave: function () {
        settle(new Error("left"));
        dispose();
        if (mic) { mic.stop(); mic = null; }
        status("disconnected", "You left the call.");
      },
      setMuted: function (muted) {
        if (mic) { mic.enabled = !muted; }
        return setTrack("isAudioMuted", "toggleAudio", muted);
      },
      setCameraOff: function (off) {
        return setTrack("isVideoMuted", "toggleVideo", off);
      },
      setAudioOnly: function (on) {
        audioOnly = !!on;
        return setTrack("isVideoMuted", "toggleVideo", audioOnly);
      },
      reconnect: function () {
        settle(new Error("reconnecting"));
        status("reconnecting", "Joining the call again…");
        return join();
      },
      microphone: function () {
        return mic && mic.readyState === "live" ? mic : null;
      }
    };
  });
}());
