/* call_webrtc: the browser adapter of the "webrtc" call provider (docs/call-webrtc.md).

   A full mesh: one RTCPeerConnection per other member of the call (two participants, a facilitator,
   an admin observing). Offers, answers and ICE candidates travel over the page's Socket.IO as
   "webrtc_signal" events that the server checks and relays to one user. Negotiation follows the
   "perfect negotiation" pattern: of two members, the one with the lower user id is polite (it gives
   way when both offer at once).

   Every page load (and every reconnect()) has its own random session token, sent with each signal.
   A page greets each member it has no connection to with {restart: true} (a "hello"); the member
   builds a fresh connection for that session and makes the offer, so no offer is lost to a page that
   was not there yet; a hello that crossed an offer (both pages greeted each other at once) is ignored
   rather than rebuilding a connection the other side is already answering. A peer whose session changes (the other person reloaded) is rebuilt from
   scratch, and signals meant for an earlier session are dropped. ICE restarts after 3 seconds "disconnected" or at once on
   "failed", again every 10 seconds while it stays down, and after the live connection comes back.

   Chrome sometimes leaves a <video> empty (readyState 0) while the other person's frames are being
   decoded (the track may even read muted), and a new MediaStream for the same element does not help: a watchdog shows the stream in a
   new element after 6 seconds of that, and rebuilds the connection after 12.

   For tests and support: window.ossWebrtcState(), window.ossWebrtcStats() (a promise of what each
   connection receives) and the container's data-call-status attribute. */
(function () {
  "use strict";
  if (!window.OssCall || typeof window.OssCall.register !== "function") { return; }

  var SIGNAL = "webrtc_signal";
  var DISCONNECTED_GRACE_MS = 3000;
  var RESTART_RETRY_MS = 10000;
  var GONE_CHECK_MS = 15000;
  var HELLO_GRACE_MS = 10000;  // a repeated hello from the same page within this time is not a new request
  var STUCK_MS = 8000;         // a connection that never connected by then is rebuilt (the impolite side waits longer)
  var PICTURE_CHECK_MS = 2000; // how often a received picture that shows nothing is looked at
  var BLANK_CHECKS_REATTACH = 3;
  var BLANK_CHECKS_REBUILD = 6;
  var ALLOW_MEDIA = "Your browser did not allow this site to use your camera and microphone. Click the camera " +
    "or lock icon in the address bar (or open the browser's site settings), allow the camera and microphone " +
    "for this site, then choose \"Try again\".";

  function newSession() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function constraint(value) {
    if (!value || value === true) { return true; }
    var out = {};
    if (value.deviceId) { out.deviceId = typeof value.deviceId === "string" ? {ideal: value.deviceId} : value.deviceId; }
    return out;
  }

  function names(peers) {
    var list = peers.map(function (peer) { return peer.member.name || "another person"; });
    if (list.length < 2) { return list.join(""); }
    return list.slice(0, -1).join(", ") + " and " + list[list.length - 1];
  }

  function sentence(text) {  // "Connected to Ben G." rather than "Ben G.."
    return /\.$/.test(text) ? text : text + ".";
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }
    return node;
  }

  function factory(payload, context) {
    var conversationId = context.conversationId;
    var me = context.me;
    var socket = context.socket;
    var container = context.container;
    var rtcConfig = {iceServers: payload.iceServers || [], iceTransportPolicy: payload.iceTransportPolicy || "all"};
    var session = newSession();
    var local = null;
    var audioOnly = !!context.audioOnly || (context.mediaConstraints && context.mediaConstraints.video === false);
    var muted = false;
    var cameraOff = false;
    var peers = {};
    var rebuilt = 0;  // connections rebuilt because their picture stayed empty
    var members = {};
    var active = false;
    var socketWasDown = false;
    var mediaNote = "";
    var status = "connecting";
    var grid = element("div", "webrtc-grid");
    var self = element("figure", "webrtc-self");
    var selfVideo = element("video");

    selfVideo.muted = true;
    selfVideo.autoplay = true;
    selfVideo.playsInline = true;
    selfVideo.setAttribute("aria-label", "Your camera");
    self.appendChild(selfVideo);
    self.appendChild(element("figcaption", "", "You"));

    function setStatus(value, detail) {
      status = value;
      container.setAttribute("data-call-status", value);
      context.setStatus(value, detail);
    }

    function peerList() {
      return Object.keys(peers).map(function (id) { return peers[id]; });
    }

    function updateStatus() {
      if (!active) { return; }
      var list = peerList();
      var connected = list.filter(function (peer) { return peer.pc.connectionState === "connected"; });
      var note = mediaNote ? " " + mediaNote : "";
      if (connected.length) {
        var waiting = list.filter(function (peer) { return connected.indexOf(peer) < 0; });
        setStatus("connected", sentence("Connected to " + names(connected)) +
          (waiting.length ? " Connecting to " + names(waiting) + "…" : "") + note);
      } else if (!list.length) {
        setStatus("connecting", "Waiting for the others to join." + note);
      } else if (list.some(function (peer) { return peer.wasConnected; })) {
        setStatus("reconnecting", "The connection to " + names(list) + " dropped; reconnecting…" + note);
      } else if (list.every(function (peer) { return peer.pc.connectionState === "failed"; })) {
        setStatus("failed", "Could not connect to " + names(list) + "; still trying. If this goes on, the " +
          "network may block video calls: try another network, or ask the organisers about a TURN server." + note);
      } else {
        setStatus("connecting", "Connecting to " + names(list) + "…" + note);
      }
    }

    function send(peer, fields) {
      var message = {conversation_id: conversationId, to: peer.id, session: session};
      if (peer.remoteSession) { message.to_session = peer.remoteSession; }
      if (peer.pcId) { message.pc = peer.pcId; }
      if (peer.remotePcId) { message.to_pc = peer.remotePcId; }
      Object.keys(fields).forEach(function (key) { message[key] = fields[key]; });
      socket.emit(SIGNAL, message, function (ack) {
        if (ack && ack.error && window.console) { window.console.warn("webrtc_signal refused: " + ack.error); }
      });
    }

    function videoTransceivers(pc) {
      return pc.getTransceivers().filter(function (transceiver) {
        return transceiver.receiver && transceiver.receiver.track && transceiver.receiver.track.kind === "video" &&
          !transceiver.stopped && transceiver.currentDirection !== "stopped";
      });
    }

    /* Audio only: no video in either direction on this side; otherwise send the camera when there is one. */
    function applyVideoDirection(peer) {
      var track = local && local.getVideoTracks()[0];
      videoTransceivers(peer.pc).forEach(function (transceiver) {
        var wanted = audioOnly ? "inactive" : (track ? "sendrecv" : "recvonly");
        if (!audioOnly && track && transceiver.sender.track !== track) { transceiver.sender.replaceTrack(track); }
        if (audioOnly && transceiver.sender.track) { transceiver.sender.replaceTrack(null); }
        if (transceiver.direction !== wanted) { transceiver.direction = wanted; }
      });
      peer.figure.setAttribute("data-audio-only", audioOnly ? "true" : "false");
    }

    function playSound(peer) {
      var playing = peer.audio.play();
      if (playing && playing.catch) {
        playing.catch(function () {
          if (peer.soundButton) { return; }
          peer.soundButton = element("button", "webrtc-play-sound", "Turn on the sound of " + peer.member.name);
          peer.soundButton.type = "button";
          peer.soundButton.addEventListener("click", function () {
            peer.audio.play();
            peer.figure.removeChild(peer.soundButton);
            peer.soundButton = null;
          });
          peer.figure.appendChild(peer.soundButton);
        });
      }
    }

    function label(peer) {
      var name = peer.member.name || "Another person";
      peer.video.setAttribute("aria-label", "Camera of " + name);
      peer.audio.setAttribute("aria-label", "Sound of " + name);
      var role = peer.member.role;
      peer.caption.textContent = name + (role && role !== "participant" && name.toLowerCase() !== role
        ? " (" + role + ")" : "");  // "Organiser (admin)", but not "Facilitator (facilitator)"
    }

    /* "I have no connection to you (yet)": the other side builds a fresh one and makes the offer. */
    function hello(id) {
      send({id: id, remoteSession: null}, {restart: true});
    }

    function createPeer(member, remoteSession, remotePcId) {
      var peer = {
        id: member.id, member: member, polite: me.id < member.id, remoteSession: remoteSession || null,
        pcId: newSession().slice(0, 12), remotePcId: remotePcId || null,
        makingOffer: false, ignoreOffer: false, settingAnswer: false, wasConnected: false, createdAt: Date.now(),
        queue: Promise.resolve(), disconnectTimer: null, restartTimer: null, goneTimer: null, stuckTimer: null,
        pictureTimer: null, pictureChecks: 0, blankChecks: 0, lastDecoded: null, reattached: 0,
        statsError: null, pictureSkipped: null,
        stream: new MediaStream(), figure: element("figure", "webrtc-peer"), video: videoElement(),
        audio: element("audio"), caption: element("figcaption"), soundButton: null
      };
      var pc = peer.pc = new RTCPeerConnection(rtcConfig);
      peer.figure.setAttribute("data-user-id", String(member.id));
      peer.audio.autoplay = true;
      peer.video.srcObject = peer.stream;
      peer.audio.srcObject = peer.stream;
      peer.figure.appendChild(peer.video);
      peer.figure.appendChild(peer.audio);
      peer.figure.appendChild(peer.caption);
      label(peer);
      grid.appendChild(peer.figure);
      peers[member.id] = peer;

      if (local) { local.getTracks().forEach(function (track) { pc.addTrack(track, local); }); }
      applyVideoDirection(peer);

      pc.ontrack = function (event) {
        var track = event.track;
        peer.stream.getTracks().forEach(function (old) {
          if (old.kind === track.kind && old !== track) { peer.stream.removeTrack(old); }
        });
        if (peer.stream.getTracks().indexOf(track) < 0) { peer.stream.addTrack(track); }
        if (track.kind === "audio") {
          attach(peer.audio, peer.stream);
          playSound(peer);
        } else {
          attach(peer.video, peer.stream);
          peer.video.play().catch(function () {});
        }
      };
      pc.onicecandidate = function (event) {
        if (event.candidate) { send(peer, {candidate: event.candidate.toJSON()}); }
      };
      pc.onnegotiationneeded = function () {
        peer.makingOffer = true;
        pc.setLocalDescription().then(function () {
          send(peer, {description: {type: pc.localDescription.type, sdp: pc.localDescription.sdp}});
        }).catch(function (error) {
          if (window.console) { window.console.warn("webrtc: could not make an offer", error); }
        }).then(function () { peer.makingOffer = false; });
      };
      pc.oniceconnectionstatechange = function () {
        var state = pc.iceConnectionState;
        if (state === "failed") {
          restart(peer);
        } else if (state === "disconnected") {
          window.clearTimeout(peer.disconnectTimer);
          peer.disconnectTimer = window.setTimeout(function () {
            if (pc.iceConnectionState === "disconnected" || pc.iceConnectionState === "failed") { restart(peer); }
          }, DISCONNECTED_GRACE_MS);
        } else if (state === "connected" || state === "completed") {
          window.clearTimeout(peer.disconnectTimer);
          window.clearTimeout(peer.restartTimer);
        }
        updateStatus();
      };
      pc.onconnectionstatechange = function () {
        if (pc.connectionState === "connected") { peer.wasConnected = true; }
        updateStatus();
      };
      peer.stuckTimer = window.setTimeout(function () { unstick(peer); }, STUCK_MS + (peer.polite ? 0 : STUCK_MS / 2));
      peer.pictureTimer = window.setInterval(function () { checkPicture(peer); }, PICTURE_CHECK_MS);
      updateStatus();
      return peer;
    }

    /* Give an element a new MediaStream of the peer's tracks: an element does not always pick up a
       track added to the stream it already shows, nor a stream set again as it was. */
    function attach(media, stream) {
      media.srcObject = new MediaStream(stream.getTracks());
    }

    /* The picture should show (connected, the other person's video arriving and being decoded) but the
       element has nothing. Chrome's `muted` is no guide here: a track whose frames never reach it reads
       muted while the decoder works, so the inbound statistics decide. After three such checks in a
       row, show the stream in a new element; after six, rebuild the connection. */
    function checkPicture(peer) {
      peer.pictureChecks += 1;
      var transceiver = videoTransceivers(peer.pc).filter(function (candidate) {
        return (candidate.currentDirection === "sendrecv" || candidate.currentDirection === "recvonly") &&
          candidate.receiver.track.readyState === "live";
      })[0];
      peer.pictureSkipped = !transceiver ? "not receiving video" : peer.pc.connectionState !== "connected"
        ? "not connected" : peer.video.readyState >= 2 ? "showing" : null;
      if (peer.pictureSkipped) {
        peer.blankChecks = 0;
        peer.lastDecoded = null;
        return;
      }
      peer.pc.getStats().then(function (report) {
        if (peers[peer.id] !== peer || !active) { return; }
        var decoded = null;
        report.forEach(function (entry) {
          if (entry.type === "inbound-rtp" && entry.kind === "video" && (!entry.mid || entry.mid === transceiver.mid)) {
            decoded = Math.max(decoded || 0, entry.framesDecoded || 0);
          }
        });
        var decoding = decoded !== null && peer.lastDecoded !== null && decoded > peer.lastDecoded;
        peer.lastDecoded = decoded;
        peer.blankChecks = decoding && peer.video.readyState < 2 ? peer.blankChecks + 1 : 0;
        if (peer.blankChecks === BLANK_CHECKS_REATTACH) {
          showInNewElement(peer);
        } else if (peer.blankChecks >= BLANK_CHECKS_REBUILD && socket.connected && members[peer.id]) {
          if (window.console) { window.console.info("webrtc: the picture of " + peer.id + " still shows nothing; reconnecting"); }
          rebuild(peer);
        }
      }).catch(function (error) { peer.statsError = String(error); });
    }

    /* A new connection to the same page, offered by this side: its new `pc` id makes the other side
       rebuild its end to match (a hello would be ignored, as their end still looks connected). With no
       camera or microphone there is nothing to offer, so the other side is asked with a hello. */
    function rebuild(peer) {
      var member = members[peer.id] || peer.member;
      var remoteSession = peer.remoteSession;
      rebuilt += 1;
      closePeer(peer.id);
      if (local && local.getTracks().length) {
        createPeer(member, remoteSession);
      } else {
        hello(peer.id);
      }
    }

    function showInNewElement(peer) {
      peer.reattached += 1;
      if (window.console) { window.console.info("webrtc: the picture of " + peer.id + " shows nothing; new element"); }
      var fresh = videoElement();
      peer.figure.replaceChild(fresh, peer.video);
      peer.video = fresh;
      label(peer);
      attach(fresh, peer.stream);
      fresh.play().catch(function () {});
    }

    function videoElement() {
      var video = element("video");
      video.autoplay = true;
      video.playsInline = true;
      video.muted = true;  // the sound plays in the <audio> element
      return video;
    }

    /* A first connection that never came up (a signal lost in a race): start again with a hello; the
       other side rebuilds too when our new connection's offer reaches it. */
    function unstick(peer) {
      if (!active || peers[peer.id] !== peer || peer.wasConnected || peer.pc.connectionState === "connected") {
        return;
      }
      if (!socket.connected || !members[peer.id]) {
        peer.stuckTimer = window.setTimeout(function () { unstick(peer); }, STUCK_MS);
        return;
      }
      closePeer(peer.id);
      hello(peer.id);
    }

    /* ICE restart; again every 10 s while the connection stays down (each try is a new offer). */
    function restart(peer) {
      var pc = peer.pc;
      window.clearTimeout(peer.restartTimer);
      if (!active || peers[peer.id] !== peer || pc.signalingState === "closed") { return; }
      var ready = pc.signalingState === "have-local-offer"
        ? pc.setLocalDescription({type: "rollback"}) : Promise.resolve();  // its answer may have been lost
      ready.then(function () { pc.restartIce(); }).catch(function () {});
      peer.restartTimer = window.setTimeout(function () {
        if (pc.connectionState !== "connected" && socket.connected) { restart(peer); }
      }, RESTART_RETRY_MS);
    }

    function closePeer(id) {
      var peer = peers[id];
      if (!peer) { return; }
      delete peers[id];
      window.clearTimeout(peer.stuckTimer);
      window.clearTimeout(peer.disconnectTimer);
      window.clearTimeout(peer.restartTimer);
      window.clearTimeout(peer.goneTimer);
      window.clearInterval(peer.pictureTimer);
      peer.pc.ontrack = peer.pc.onicecandidate = peer.pc.onnegotiationneeded = null;
      peer.pc.oniceconnectionstatechange = peer.pc.onconnectionstatechange = null;
      peer.pc.close();
      if (peer.figure.parentNode) { peer.figure.parentNode.removeChild(peer.figure); }
      updateStatus();
    }

    /* One signal from a peer, in order (perfect negotiation). */
    function handle(peer, data) {
      var pc = peer.pc;
      if (data.description) {
        var description = data.description;
        var readyForOffer = !peer.makingOffer && (pc.signalingState === "stable" || peer.settingAnswer);
        var collision = description.type === "offer" && !readyForOffer;
        peer.ignoreOffer = !peer.polite && collision;
        if (peer.ignoreOffer) { return Promise.resolve(); }
        peer.settingAnswer = description.type === "answer";
        return pc.setRemoteDescription(description).then(function () {
          peer.settingAnswer = false;
          if (description.type !== "offer") { return null; }
          applyVideoDirection(peer);
          return pc.setLocalDescription().then(function () {
            send(peer, {description: {type: pc.localDescription.type, sdp: pc.localDescription.sdp}});
          });
        });
      }
      if (data.candidate) {
        return pc.addIceCandidate(data.candidate).catch(function (error) {
          if (!peer.ignoreOffer && pc.remoteDescription) { throw error; }  // else: for an offer we dropped
        });
      }
      return Promise.resolve();
    }

    function onSignal(data) {
      if (!active || !data || data.conversation_id !== conversationId || data.from === me.id) { return; }
      if (data.to_session && data.to_session !== session) { return; }  // for an earlier page of mine
      var peer = peers[data.from];
      var member = members[data.from] || {id: data.from, name: "", role: ""};
      if (data.restart) {        // a hello: they have no connection to us; build a fresh one and offer
        if (peer && peer.remoteSession === data.session && peer.pc.connectionState !== "failed" &&
            (peer.pc.connectionState === "connected" || Date.now() - peer.createdAt < HELLO_GRACE_MS)) {
          return;  // it crossed the offer one of us already sent: rebuilding now would strand that exchange
        }
        closePeer(data.from);
        createPeer(member, data.session);
        return;
      }
      var offer = data.description && data.description.type === "offer";
      if (peer && data.to_pc && data.to_pc !== peer.pcId) { return; }  // for a connection of mine now closed
      if (peer && data.session && peer.remoteSession && data.session !== peer.remoteSession) {
        if (!offer) { return; }  // left over from the other person's earlier page
        closePeer(data.from);    // they reloaded: start again with their new page
        peer = null;
      }
      if (peer && data.pc && peer.remotePcId && data.pc !== peer.remotePcId) {
        if (!offer) { return; }  // from a connection they have closed
        closePeer(data.from);    // they rebuilt their connection to us: rebuild ours to match
        peer = null;
      }
      if (!peer) {
        if (!offer) { return; }
        peer = createPeer(member, data.session, data.pc);
      }
      if (data.session && !peer.remoteSession) { peer.remoteSession = data.session; }
      if (data.pc && !peer.remotePcId) { peer.remotePcId = data.pc; }
      peer.queue = peer.queue.then(function () { return handle(peer, data); }).catch(function (error) {
        if (window.console) { window.console.warn("webrtc: signal from " + data.from + " failed", error); }
      });
    }

    function closeIfGone(id) {
      var peer = peers[id];
      if (!peer || members[id]) { return; }
      if (peer.pc.connectionState === "connected") {  // still talking directly: the live connection blipped
        peer.goneTimer = window.setTimeout(function () { closeIfGone(id); }, GONE_CHECK_MS);
      } else {
        closePeer(id);
      }
    }

    function onMembers(list) {
      members = {};
      (list || []).forEach(function (member) {
        if (member && typeof member.id === "number" && member.id !== me.id) { members[member.id] = member; }
      });
      if (!active) { return; }
      Object.keys(members).forEach(function (id) {
        var peer = peers[id];
        if (!peer) {
          hello(Number(id));
        } else {
          window.clearTimeout(peer.goneTimer);
          peer.member = members[id];
          label(peer);
        }
      });
      Object.keys(peers).forEach(function (id) {
        if (!members[id] && !peers[id].goneTimer) {
          peers[id].goneTimer = window.setTimeout(function () { closeIfGone(Number(id)); }, GONE_CHECK_MS);
        }
      });
      updateStatus();
    }

    function join() {
      socket.emit("webrtc_join", {conversation_id: conversationId}, function (ack) {
        if (ack && ack.error) { setStatus("failed", "Could not join the call: " + ack.error); }
      });
    }

    function onSocketDisconnect() { socketWasDown = true; }

    function onSocketConnect() {
      if (!active || !socketWasDown) { return; }
      socketWasDown = false;
      join();
      peerList().forEach(function (peer) {
        if (peer.pc.connectionState !== "connected" || peer.pc.signalingState !== "stable") { restart(peer); }
      });
    }

    function onEnd(data) {
      if (!data || data.conversation_id !== conversationId) { return; }
      teardown();
      setStatus("disconnected", "The conversation has ended.");
    }

    function openMedia() {
      var audio = constraint(context.mediaConstraints && context.mediaConstraints.audio);
      var video = audioOnly ? false : constraint(context.mediaConstraints && context.mediaConstraints.video);
      if (!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia)) {
        return Promise.reject(new Error("This browser cannot use a camera or microphone; please use a recent " +
          "Firefox, Chrome, Edge or Safari."));
      }
      return navigator.mediaDevices.getUserMedia({audio: audio, video: video}).catch(function (error) {
        if (error && (error.name === "NotAllowedError" || error.name === "SecurityError")) {
          throw new Error(ALLOW_MEDIA);
        }
        if (!video) { throw new Error("No microphone could be used: " + (error && error.message || error) + "."); }
        return navigator.mediaDevices.getUserMedia({audio: audio, video: false}).then(function (stream) {
          mediaNote = "No camera could be used (none was found, or another program is using it), so the " +
            "others hear you but do not see you.";
          return stream;
        }, function (second) {
          if (second && second.name === "NotAllowedError") { throw new Error(ALLOW_MEDIA); }
          throw new Error("No microphone was found, or another program is using it. Connect a microphone, " +
            "close other programs that use it, then choose \"Try again\".");
        });
      }).then(function (stream) {
        local = stream;
        local.getAudioTracks().forEach(function (track) { track.enabled = !muted; });
        local.getVideoTracks().forEach(function (track) { track.enabled = !cameraOff; });
        showSelf();
      });
    }

    function showSelf() {
      var hasVideo = !!(local && local.getVideoTracks().length);
      selfVideo.srcObject = hasVideo ? local : null;
      self.hidden = !hasVideo;
      if (hasVideo) { selfVideo.play().catch(function () {}); }
    }

    function teardown() {
      active = false;
      Object.keys(peers).forEach(closePeer);
      if (local) { local.getTracks().forEach(function (track) { track.stop(); }); }
      local = null;
      socket.off(SIGNAL, onSignal);
      socket.off("webrtc_end", onEnd);
      socket.off("connect", onSocketConnect);
      socket.off("disconnect", onSocketDisconnect);
      if (grid.parentNode) { grid.parentNode.removeChild(grid); }
    }

    function start() {
      teardown();
      session = newSession();
      mediaNote = "";
      container.setAttribute("data-call-session", session);
      setStatus("connecting", "Starting your camera and microphone…");
      return openMedia().then(function () {
        active = true;
        grid.textContent = "";
        grid.appendChild(self);
        container.appendChild(grid);
        socket.on(SIGNAL, onSignal);
        socket.on("webrtc_end", onEnd);
        socket.on("connect", onSocketConnect);
        socket.on("disconnect", onSocketDisconnect);
        join();
        onMembers(context.members());  // a hello to each: whoever is there offers
        updateStatus();
      }, function (error) {
        setStatus("failed", error.message);
      });
    }

    function setAudioOnly(value) {
      audioOnly = !!value;
      var track = local && local.getVideoTracks()[0];
      if (audioOnly) {
        if (track) { track.stop(); local.removeTrack(track); }
        peerList().forEach(applyVideoDirection);
        showSelf();
        return Promise.resolve();
      }
      if (track) { peerList().forEach(applyVideoDirection); return Promise.resolve(); }
      var video = constraint(context.mediaConstraints && context.mediaConstraints.video);
      return navigator.mediaDevices.getUserMedia({video: video}).then(function (stream) {
        var camera = stream.getVideoTracks()[0];
        camera.enabled = !cameraOff;
        local.addTrack(camera);
        mediaNote = "";
        peerList().forEach(function (peer) {
          if (!videoTransceivers(peer.pc).length) { peer.pc.addTrack(camera, local); }
          applyVideoDirection(peer);
        });
        showSelf();
        updateStatus();
      }, function (error) {
        audioOnly = true;
        mediaNote = error && error.name === "NotAllowedError" ? ALLOW_MEDIA
          : "No camera could be used, so you stay on sound only.";
        updateStatus();
      });
    }

    context.onMembers(onMembers);
    onMembers(context.members());

    window.ossWebrtcState = function () {
      var state = {status: status, session: session, audioOnly: audioOnly, muted: muted, cameraOff: cameraOff,
        peers: {}};
      state.reattached = {};
      state.connections = {};
      state.rebuilt = rebuilt;
      peerList().forEach(function (peer) {
        state.peers[peer.id] = peer.pc.connectionState;
        state.connections[peer.id] = peer.pcId;
        state.reattached[peer.id] = peer.reattached;
      });
      return state;
    };

    /* What each connection receives, for diagnosing a picture that does not come (a promise). */
    window.ossWebrtcStats = function () {
      return Promise.all(peerList().map(function (peer) {
        return peer.pc.getStats().then(function (report) {
          var inbound = [];
          report.forEach(function (entry) {
            if (entry.type === "inbound-rtp") {
              inbound.push({kind: entry.kind, packets: entry.packetsReceived, frames: entry.framesReceived,
                decoded: entry.framesDecoded, keyFrames: entry.keyFramesDecoded, pli: entry.pliCount,
                fir: entry.firCount, nack: entry.nackCount, dropped: entry.framesDropped,
                decoder: entry.decoderImplementation, mid: entry.mid});
            }
          });
          return {id: peer.id, signaling: peer.pc.signalingState, inbound: inbound, blankChecks: peer.blankChecks,
            pictureChecks: peer.pictureChecks, videoReadyState: peer.video.readyState, lastDecoded: peer.lastDecoded,
            statsError: peer.statsError, pictureSkipped: peer.pictureSkipped,
            receivedTracks: peer.pc.getReceivers().map(function (r) {
              return r.track.kind + ":" + r.track.readyState + ":" + (r.track.muted ? "muted" : "unmuted");
            }),
            transceivers: peer.pc.getTransceivers().map(function (t) {
              return t.mid + ":" + (t.receiver.track && t.receiver.track.kind) + ":" + t.direction + "/" +
                t.currentDirection + ":" + (t.receiver.track && t.receiver.track.id.slice(0, 6));
            }),
            stream: peer.stream.getTracks().map(function (t) { return t.kind + ":" + t.id.slice(0, 6); })};
        });
      }));
    };

    return {
      start: start,
      leave: function () {
        teardown();
        setStatus("disconnected", "You left the call.");
      },
      setMuted: function (value) {
        muted = !!value;
        if (local) { local.getAudioTracks().forEach(function (track) { track.enabled = !muted; }); }
      },
      setCameraOff: function (value) {
        cameraOff = !!value;
        if (local) { local.getVideoTracks().forEach(function (track) { track.enabled = !cameraOff; }); }
      },
      setAudioOnly: setAudioOnly,
      reconnect: function () {
        setStatus("reconnecting", "Reconnecting…");
        return start();
      },
      microphone: function () {
        return local ? local.getAudioTracks()[0] || null : null;
      }
    };
  }

  window.OssCall.register("webrtc", factory);
}());
