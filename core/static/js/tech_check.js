/* Tech check: camera preview, microphone level, speaker test, browser support and connection checks.

   Every result is written in words (never colour alone) and announced in the page's polite live region.

   Extension point for call providers: before or after this file loads, push a check onto the queue

     (window.ossTechCheckChecks = window.ossTechCheckChecks || []).push({
       id: "my-provider",                      // unique, lower case
       label: "Connection to My Provider",     // shown to the participant
       run: function (context) {               // context.iceServers: the page's ICE servers
         return Promise.resolve({ok: true, detail: "reached in 40 ms"});   // or {ok: false, detail: "why"}
       }
     });

   Each queued check gets a list item under "Connection" and runs with the built-in ones. A provider
   that needs TURN/STUN servers sets them in the page's data-ice-servers attribute (JSON). */
(function () {
  "use strict";
  var root = document.getElementById("tech-check");
  if (!root) { return; }
  var statusRegion = document.getElementById("tech-check-status");
  var startButton = document.getElementById("tech-check-start");
  var iceServers = [];
  try { iceServers = JSON.parse(root.getAttribute("data-ice-servers") || "[]"); } catch (ignored) { iceServers = []; }
  var queue = window.ossTechCheckChecks = window.ossTechCheckChecks || [];
  var stream = null;
  var audioContext = null;
  var announcements = [];

  function announce(text) {
    announcements.push(text);
    statusRegion.textContent = announcements.slice(-3).join(" ");
  }

  function resultElement(id) {
    return root.querySelector('[data-check="' + id + '"]');
  }

  function setResult(id, label, ok, detail) {
    var element = resultElement(id);
    var text = label + ": " + (ok ? "OK" : "not OK") + (detail ? " (" + detail + ")" : "") + ".";
    if (element) {
      element.textContent = text;
      element.setAttribute("data-state", ok ? "ok" : "fail");
    }
    announce(text);
  }

  function getAudioContext() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return null; }
    if (!audioContext) { audioContext = new Context(); }
    if (audioContext.state === "suspended") { audioContext.resume(); }
    return audioContext;
  }

  /* Browser support */
  function browserChecks() {
    var list = document.getElementById("browser-checks");
    var checks = [
      ["Camera and microphone access (getUserMedia)",
        !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia)],
      ["Video calls (RTCPeerConnection)", typeof window.RTCPeerConnection === "function"],
      ["Recording (MediaRecorder with audio/webm;codecs=opus)",
        typeof window.MediaRecorder === "function" && typeof window.MediaRecorder.isTypeSupported === "function" &&
        window.MediaRecorder.isTypeSupported("audio/webm;codecs=opus")],
      ["Live updates (WebSocket)", typeof window.WebSocket === "function"],
      ["Saving recordings safely while recording (IndexedDB)", !!window.indexedDB]
    ];
    list.textContent = "";
    var missing = [];
    checks.forEach(function (check) {
      var item = document.createElement("li");
      item.setAttribute("data-state", check[1] ? "ok" : "fail");
      item.textContent = check[0] + ": " + (check[1] ? "supported" : "not supported");
      list.appendChild(item);
      if (!check[1]) { missing.push(check[0]); }
    });
    setResult("browser", "Browser", missing.length === 0,
      missing.length ? "missing: " + missing.join(", ") + "; try a recent Firefox, Chrome, Edge or Safari"
        : "everything needed is supported");
  }

  /* Camera and microphone */
  function openMedia() {
    if (!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia)) {
      setResult("camera", "Camera", false, "this browser cannot use a camera");
      setResult("microphone", "Microphone", false, "this browser cannot use a microphone");
      return Promise.resolve();
    }
    if (stream) { stream.getTracks().forEach(function (track) { track.stop(); }); }
    return navigator.mediaDevices.getUserMedia({video: true, audio: true}).then(function (media) {
      stream = media;
      showCamera(media);
      measureMicrophone(media);
    }, function (error) {
      var why = error && error.name === "NotAllowedError"
        ? "permission was refused; allow the camera and microphone in your browser's address bar and try again"
        : "no camera or microphone was found, or another program is using it";
      setResult("camera", "Camera", false, why);
      setResult("microphone", "Microphone", false, why);
    });
  }

  function showCamera(media) {
    var video = document.getElementById("camera-preview");
    if (!media.getVideoTracks().length) {
      setResult("camera", "Camera", false, "no camera was found");
      return;
    }
    video.srcObject = media;
    var reported = false;
    function report() {
      if (reported || !video.videoWidth) { return; }
      reported = true;
      setResult("camera", "Camera", true, "you should see yourself; picture " + video.videoWidth + " by " +
        video.videoHeight);
    }
    video.addEventListener("loadedmetadata", report);
    video.addEventListener("playing", report);
    var playing = video.play();
    if (playing && playing.catch) { playing.catch(function () { /* reported by the timeout below */ }); }
    window.setTimeout(function () {
      if (!reported) { reported = true; setResult("camera", "Camera", false, "the camera sends no picture"); }
    }, 10000);
  }

  function measureMicrophone(media) {
    var meter = document.getElementById("mic-level");
    var text = document.getElementById("mic-level-text");
    if (!media.getAudioTracks().length) {
      setResult("microphone", "Microphone", false, "no microphone was found");
      return;
    }
    var context = getAudioContext();
    if (!context) {
      setResult("microphone", "Microphone", false, "this browser cannot measure sound");
      return;
    }
    var analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(media).connect(analyser);
    var samples = new Uint8Array(analyser.fftSize);
    var heard = false;
    var started = Date.now();
    var timer = window.setInterval(function () {
      analyser.getByteTimeDomainData(samples);
      var sum = 0;
      for (var i = 0; i < samples.length; i += 1) {
        var value = (samples[i] - 128) / 128;
        sum += value * value;
      }
      var level = Math.min(100, Math.round(Math.sqrt(sum / samples.length) * 300));
      meter.value = level;
      meter.textContent = level + " of 100";
      text.textContent = level + " of 100";
      if (level > 2 && !heard) {
        heard = true;
        setResult("microphone", "Microphone", true, "we can hear sound");
      }
      if (!heard && Date.now() - started > 15000) {
        heard = true;
        setResult("microphone", "Microphone", false,
          "no sound reached us; check that the right microphone is chosen and not muted");
      }
    }, 100);
    window.addEventListener("pagehide", function () { window.clearInterval(timer); });
  }

  /* Speakers */
  function playTone() {
    var context = getAudioContext();
    if (!context) {
      setResult("speaker", "Speakers", false, "this browser cannot play a test sound");
      return;
    }
    var oscillator = context.createOscillator();
    var gain = context.createGain();
    oscillator.type = "sine";
    oscillator.frequency.value = 440;
    gain.gain.value = 0.2;
    oscillator.connect(gain).connect(context.destination);
    oscillator.start();
    oscillator.stop(context.currentTime + 1);
    var question = document.getElementById("speaker-question");
    question.hidden = false;
    announce("Playing a test sound for one second. Did you hear it?");
  }

  /* Connection: Socket.IO round trip */
  function socketCheck() {
    return new Promise(function (resolve) {
      if (typeof window.io !== "function") {
        resolve({ok: false, detail: "the live connection script did not load"});
        return;
      }
      var socket = window.io({forceNew: true, reconnection: false, timeout: 8000});
      var done = false;
      function finish(result) {
        if (done) { return; }
        done = true;
        socket.disconnect();
        resolve(result);
      }
      socket.on("connect_error", function () {
        finish({ok: false, detail: "could not connect; a firewall or proxy may block live connections"});
      });
      socket.on("connect", function () {
        var sent = Date.now();
        socket.timeout(5000).emit("tech_ping", {sent: sent}, function (error, reply) {
          if (error || !reply || !reply.pong) {
            finish({ok: false, detail: "connected, but no answer came back"});
          } else {
            finish({ok: true, detail: "round trip " + (Date.now() - sent) + " ms"});
          }
        });
      });
      window.setTimeout(function () { finish({ok: false, detail: "no connection within 10 seconds"}); }, 10000);
    });
  }

  /* Connection: a loopback peer connection with the page's ICE servers */
  function peerCheck(context) {
    return new Promise(function (resolve) {
      if (typeof window.RTCPeerConnection !== "function") {
        resolve({ok: false, detail: "this browser cannot make video calls"});
        return;
      }
      var config = {iceServers: context.iceServers};
      var first = new RTCPeerConnection(config);
      var second = new RTCPeerConnection(config);
      var done = false;
      function finish(result) {
        if (done) { return; }
        done = true;
        first.close();
        second.close();
        resolve(result);
      }
      first.onicecandidate = function (event) { if (event.candidate) { second.addIceCandidate(event.candidate); } };
      second.onicecandidate = function (event) { if (event.candidate) { first.addIceCandidate(event.candidate); } };
      function watch() {
        var state = first.connectionState || first.iceConnectionState;
        if (state === "connected" || state === "completed") {
          finish({ok: true, detail: "connected"});
        } else if (state === "failed") {
          finish({ok: false, detail: "the connection failed; a firewall may block video calls"});
        }
      }
      first.onconnectionstatechange = watch;
      first.oniceconnectionstatechange = watch;
      first.createDataChannel("tech-check");
      var started = Date.now();
      first.createOffer().then(function (offer) {
        return first.setLocalDescription(offer);
      }).then(function () {
        return second.setRemoteDescription(first.localDescription);
      }).then(function () {
        return second.createAnswer();
      }).then(function (answer) {
        return second.setLocalDescription(answer);
      }).then(function () {
        return first.setRemoteDescription(second.localDescription);
      }).catch(function (error) {
        finish({ok: false, detail: "could not start a connection: " + (error && error.message)});
      });
      window.setTimeout(function () {
        finish({ok: false, detail: "no connection after " + Math.round((Date.now() - started) / 1000) + " seconds"});
      }, 15000);
    });
  }

  var connectionChecks = [
    {id: "socket", label: "Live connection to this site", run: socketCheck},
    {id: "peer", label: "Direct connection for video (peer to peer)", run: peerCheck}
  ];

  function runConnectionChecks() {
    var list = document.getElementById("connection-checks");
    var checks = connectionChecks.concat(queue.filter(function (check) {
      return check && typeof check.id === "string" && typeof check.run === "function";
    }));
    return Promise.all(checks.map(function (check) {
      if (!resultElement(check.id)) {
        var item = document.createElement("li");
        item.className = "check-result";
        item.setAttribute("data-check", check.id);
        item.setAttribute("data-state", "pending");
        list.appendChild(item);
      }
      var label = check.label || check.id;
      resultElement(check.id).textContent = label + ": checking…";
      var running;
      try {
        running = Promise.resolve(check.run({iceServers: iceServers}));
      } catch (error) {
        running = Promise.resolve({ok: false, detail: String(error && error.message)});
      }
      return running.then(function (result) {
        setResult(check.id, label, !!(result && result.ok), result && result.detail);
      }, function (error) {
        setResult(check.id, label, false, String(error && error.message));
      });
    }));
  }

  startButton.addEventListener("click", function () {
    startButton.disabled = true;
    announcements = [];
    announce("Checking…");
    getAudioContext();
    browserChecks();
    Promise.all([openMedia(), runConnectionChecks()]).then(function () {
      startButton.disabled = false;
      startButton.textContent = "Check again";
      var failed = root.querySelectorAll('[data-state="fail"]').length;
      announce(failed ? failed + " check(s) need attention; see the results below." : "All checks so far are OK.");
    });
  });
  document.getElementById("speaker-play").addEventListener("click", playTone);
  document.getElementById("speaker-yes").addEventListener("click", function () {
    setResult("speaker", "Speakers", true, "you heard the test sound");
  });
  document.getElementById("speaker-no").addEventListener("click", function () {
    setResult("speaker", "Speakers", false,
      "turn the volume up, check that the right speakers or headphones are chosen, and play the sound again");
  });
  document.getElementById("tech-check-needs-js").hidden = true;
  Array.prototype.forEach.call(root.querySelectorAll(".needs-js"), function (element) { element.hidden = false; });
  root.setAttribute("data-ready", "true");
}());
