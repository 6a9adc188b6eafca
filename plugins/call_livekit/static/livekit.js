/* call_livekit: the browser adapter of the "livekit" call provider (docs/call-livekit.md).

   Joins the conversation's LiveKit room with LiveKit's own browser client (window.LivekitClient, the
   vendored UMD build loaded before this script) and the access token the server put in the payload:
   {url, token, room}. LiveKit's SFU carries the media; LiveKit itself resumes or rejoins after a network
   blip ("reconnect" capability). Admins join hidden and do not publish (their token says so).

   For tests: the container's data-call-status attribute and window.ossLivekitState(). */
(function () {
  "use strict";
  if (!window.OssCall || typeof window.OssCall.register !== "function") { return; }

  var ALLOW_MEDIA = "Your browser did not allow this site to use your camera and microphone. Click the camera " +
    "or lock icon in the address bar (or open the browser's site settings), allow the camera and microphone " +
    "for this site, then choose \"Reconnect the call\".";
  var UNREACHABLE = "Could not reach the call server. Check your internet connection or try another network, " +
    "then choose \"Reconnect the call\". If it goes on, tell the organisers.";
  var REFUSED = "The call server did not accept this page's invitation (it may have expired). Reload the page " +
    "to get a new one.";

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }
    return node;
  }

  function names(list) {
    if (list.length < 2) { return list.join(""); }
    return list.slice(0, -1).join(", ") + " and " + list[list.length - 1];
  }

  function deviceId(constraint) {
    if (!constraint || constraint === true) { return undefined; }
    var id = constraint.deviceId;
    if (id && typeof id === "object") { return id.exact || id.ideal; }
    return id || undefined;
  }

  function factory(payload, context) {
    var LK = window.LivekitClient;
    if (!LK || typeof LK.Room !== "function") {
      throw new Error("LiveKit's browser client did not load (livekit-client.umd.js)");
    }
    if (!payload || typeof payload.url !== "string" || typeof payload.token !== "string") {
      throw new Error("the server sent no LiveKit address or token");
    }
    var container = context.container;
    var me = context.me || {};
    var publishes = me.role !== "admin";
    var constraints = context.mediaConstraints || {};
    var audioOnly = !!context.audioOnly || constraints.video === false;
    var muted = false;
    var cameraOff = false;
    var leaving = false;
    var room = null;
    var status = "connecting";
    var mediaNote = "";
    var tiles = {};
    var grid = element("div", "livekit-grid");
    var self = element("figure", "livekit-tile livekit-self");
    var selfVideo = element("video");
    var soundButton = null;

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

    function memberName(identity) {
      var id = Number(identity);
      var found = (context.members() || []).filter(function (member) { return member.id === id; })[0];
      return found ? found.name : "";
    }

    function others() {
      if (!room) { return []; }
      return Array.from(room.remoteParticipants.values());
    }

    function updateStatus() {
      if (!room || leaving || status === "failed") { return; }
      if (room.state !== "connected") { return; }
      var note = mediaNote ? " " + mediaNote : "";
      var list = others().map(function (participant) {
        return participant.name || memberName(participant.identity) || "another person";
      });
      var joined = names(list);
      setStatus("connected", (list.length ? "Connected to " + joined + (/\.$/.test(joined) ? "" : ".") :
        "Connected. Waiting for the others to join.") + note);
    }

    function tileFor(participant) {
      var tile = tiles[participant.identity];
      if (tile) { return tile; }
      var figure = element("figure", "livekit-tile livekit-remote");
      figure.setAttribute("data-user-id", participant.identity);
      figure.appendChild(element("figcaption", "", participant.name || memberName(participant.identity) ||
        "Another person"));
      grid.appendChild(figure);
      tile = tiles[participant.identity] = {figure: figure};
      return tile;
    }

    function dropTile(participant) {
      var tile = tiles[participant.identity];
      if (tile && tile.figure.parentNode) { tile.figure.parentNode.removeChild(tile.figure); }
      delete tiles[participant.identity];
    }

    function attach(track, publication, participant) {
      var tile = tileFor(participant);
      var media = track.attach();
      if (track.kind === "video") {
        media.playsInline = true;
        media.setAttribute("aria-label", "Camera of " + (participant.name || "another person"));
        tile.figure.insertBefore(media, tile.figure.firstChild);
        tile.figure.setAttribute("data-audio-only", "false");
      } else {
        tile.figure.appendChild(media);
      }
    }

    function detach(track) {
      track.detach().forEach(function (media) { if (media.parentNode) { media.parentNode.removeChild(media); } });
    }

    function showSoundButton() {
      if (soundButton || !room || room.canPlaybackAudio) { return; }
      soundButton = element("button", "button livekit-play-sound", "Turn on the sound of the call");
      soundButton.type = "button";
      soundButton.addEventListener("click", function () {
        room.startAudio().then(function () {
          if (soundButton && soundButton.parentNode) { soundButton.parentNode.removeChild(soundButton); }
          soundButton = null;
        });
      });
      container.insertBefore(soundButton, container.firstChild);
    }

    function subscribeVideo(publication) {
      if (publication.kind === "video" && typeof publication.setSubscribed === "function") {
        publication.setSubscribed(!audioOnly);
      }
    }

    function mediaFailed(error) {
      var name = error && error.name;
      mediaNote = name === "NotAllowedError" || name === "SecurityError" ? ALLOW_MEDIA :
        "Your camera or microphone could not start (" + (error && error.message ? error.message : name) + ").";
      updateStatus();
    }

    function onDisconnected(reason) {
      if (leaving) { return; }
      var reasons = LK.DisconnectReason || {};
      if (reason === reasons.ROOM_DELETED) {
        setStatus("disconnected", "The call has ended.");
      } else if (reason === reasons.DUPLICATE_IDENTITY) {
        setStatus("disconnected", "You joined this call from another tab or device, so this page left it.");
      } else if (reason === reasons.PARTICIPANT_REMOVED) {
        setStatus("disconnected", "You were taken out of the call.");
      } else {
        setStatus("disconnected", "The call was disconnected. Choose \"Reconnect the call\" to join again.");
      }
    }

    function newRoom() {
      var created = new LK.Room({
        adaptiveStream: true,
        dynacast: true,
        audioCaptureDefaults: {deviceId: deviceId(constraints.audio)},
        videoCaptureDefaults: {deviceId: deviceId(constraints.video)}
      });
      created
        .on(LK.RoomEvent.TrackSubscribed, attach)
        .on(LK.RoomEvent.TrackUnsubscribed, detach)
        .on(LK.RoomEvent.TrackPublished, subscribeVideo)
        .on(LK.RoomEvent.TrackMuted, function (publication, participant) {
          if (publication.kind === "video" && tiles[participant.identity]) {
            tiles[participant.identity].figure.setAttribute("data-audio-only", "true");
          }
        })
        .on(LK.RoomEvent.TrackUnmuted, function (publication, participant) {
          if (publication.kind === "video" && tiles[participant.identity]) {
            tiles[participant.identity].figure.setAttribute("data-audio-only", "false");
          }
        })
        .on(LK.RoomEvent.ParticipantConnected, function (participant) { tileFor(participant); updateStatus(); })
        .on(LK.RoomEvent.ParticipantDisconnected, function (participant) { dropTile(participant); updateStatus(); })
        .on(LK.RoomEvent.Reconnecting, function () {
          if (created === room) { setStatus("reconnecting", "The connection to the call dropped; reconnecting…"); }
        })
        .on(LK.RoomEvent.Reconnected, updateStatus)
        .on(LK.RoomEvent.Disconnected, function (reason) { if (created === room) { onDisconnected(reason); } })
        .on(LK.RoomEvent.AudioPlaybackStatusChanged, showSoundButton)
        .on(LK.RoomEvent.MediaDevicesError, mediaFailed)
        .on(LK.RoomEvent.LocalTrackPublished, function (publication) {
          if (publication.source === LK.Track.Source.Camera && publication.track) { publication.track.attach(selfVideo); }
        })
        .on(LK.RoomEvent.LocalTrackUnpublished, function (publication) {
          if (publication.source === LK.Track.Source.Camera && publication.track) { publication.track.detach(selfVideo); }
        });
      return created;
    }

    function publish() {
      if (!publishes || !room) { return Promise.resolve(); }
      var local = room.localParticipant;
      return local.setMicrophoneEnabled(!muted)
        .then(function () { return local.setCameraEnabled(!(audioOnly || cameraOff)); })
        .catch(mediaFailed);
    }

    function connect() {
      leaving = false;
      mediaNote = "";
      room = newRoom();
      while (container.firstChild) { container.removeChild(container.firstChild); }
      if (publishes) { grid.appendChild(self); }
      container.appendChild(grid);
      setStatus("connecting", "Connecting to the call…");
      return room.connect(payload.url, payload.token, {autoSubscribe: true}).then(function () {
        others().forEach(function (participant) {
          tileFor(participant);
          participant.trackPublications.forEach(subscribeVideo);
        });
        updateStatus();
        showSoundButton();
        return publish();
      }).then(updateStatus, function (error) {
        var refused = error && (error.status === 401 || error.status === 403 ||
          (LK.ConnectionErrorReason && error.reason === LK.ConnectionErrorReason.NotAllowed));
        if (window.console) { window.console.warn("LiveKit connection failed", error); }
        setStatus("failed", refused ? REFUSED : UNREACHABLE);
        throw new Error(refused ? REFUSED : UNREACHABLE);  /* room.js shows this message, not LiveKit's */
      });
    }

    function leave() {
      leaving = true;
      Object.keys(tiles).forEach(function (identity) { dropTile({identity: identity}); });
      if (soundButton && soundButton.parentNode) { soundButton.parentNode.removeChild(soundButton); }
      soundButton = null;
      var closing = room;
      room = null;
      selfVideo.srcObject = null;
      return closing ? closing.disconnect(true) : Promise.resolve();
    }

    window.ossLivekitState = function () {
      return {status: status, room: payload.room, connection: room ? room.state : "none", muted: muted,
              cameraOff: cameraOff, audioOnly: audioOnly, publishes: publishes, others: Object.keys(tiles)};
    };

    return {
      start: connect,
      leave: function () {
        leave();
        setStatus("disconnected", "You left the call.");
      },
      setMuted: function (value) {
        muted = !!value;
        if (room && publishes) { room.localParticipant.setMicrophoneEnabled(!muted).catch(mediaFailed); }
      },
      setCameraOff: function (value) {
        cameraOff = !!value;
        if (room && publishes) { room.localParticipant.setCameraEnabled(!(audioOnly || cameraOff)).catch(mediaFailed); }
      },
      setAudioOnly: function (value) {
        audioOnly = !!value;
        if (!room) { return; }
        if (publishes) { room.localParticipant.setCameraEnabled(!(audioOnly || cameraOff)).catch(mediaFailed); }
        others().forEach(function (participant) { participant.trackPublications.forEach(subscribeVideo); });
      },
      reconnect: function () {
        return leave().then(connect, connect);
      },
      microphone: function () {
        if (!room) { return null; }
        var publication = room.localParticipant.getTrackPublication(LK.Track.Source.Microphone);
        return publication && publication.track ? publication.track.mediaStreamTrack : null;
      }
    };
  }

  window.OssCall.register("livekit", factory);
}());
