/* The conversation room: joins core's Socket.IO room, keeps the guide, timer and recording state in
   step with the server (the state's version only goes up, so a late event never moves the page
   back), runs the call provider's browser adapter, and offers help when something goes wrong. */
(function () {
  "use strict";
  var root = document.getElementById("room");
  var dataNode = document.getElementById("room-data");
  if (!root || !dataNode || typeof window.io !== "function") { return; }
  var data = JSON.parse(dataNode.textContent);
  var needsJs = document.getElementById("room-needs-js");
  if (needsJs) { needsJs.hidden = true; }

  var me = data.me;
  var guide = data.guide;
  var state = data.state;
  var receivedAt = Date.now();
  var members = [];
  var memberListeners = [];
  var adapter = null;
  var closed = false;
  var callStatus = "idle";
  var cuesShown = {};
  var prefs = { muted: false, cameraOff: false, audioOnly: false, microphone: "", camera: "" };

  function $(id) { return document.getElementById(id); }
  function say(text) { var node = $("room-status"); if (node) { node.textContent = text; } }
  function nameOf(id) { return (data.names && data.names[String(id)]) || "Your partner"; }

  var socket = window.ossSocket || window.io({ transports: ["websocket", "polling"] });
  window.ossSocket = socket;

  function send(event, payload, done) {
    payload = payload || {};
    payload.conversation_id = data.conversationId;
    socket.timeout(10000).emit(event, payload, function (error, answer) {
      if (error) { say("The site did not answer. Check your connection; we keep trying."); return; }
      if (answer && answer.state) { apply(answer.state); }
      if (answer && answer.code === "rate_limited") {  /* too many events at once: wait, then try again */
        say(answer.error);
        window.setTimeout(function () { send(event, payload, done); }, 1500);
        return;
      }
      if (answer && answer.error) {
        if (answer.code === "stale") { say(answer.error); }
        else if (answer.code === "closed" || answer.code === "not_found" || event === "room_join") {
          closeRoom(answer.error);
        } else { say(answer.error); }
      }
      if (done) { done(answer || {}); }
    });
  }

  function act(action, extra) {
    var payload = extra || {};
    payload.action = action;
    payload.version = state.version;
    send("room_action", payload);
  }

  /* --- rendering ------------------------------------------------------------------------------ */

  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var minutes = Math.floor(seconds / 60);
    var rest = seconds % 60;
    return minutes + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function elapsed() {
    var timer = state.timer;
    return timer.elapsed + (timer.running ? (Date.now() - receivedAt) / 1000 : 0);
  }

  function findPrompt(id) {
    for (var p = 0; p < guide.phases.length; p++) {
      var prompts = guide.phases[p].prompts || [];
      for (var q = 0; q < prompts.length; q++) { if (prompts[q].id === id) { return prompts[q]; } }
    }
    return null;
  }

  function apply(next) {
    if (!next || typeof next.version !== "number") { return; }
    if (next.version < state.version) { return; }  /* a late event: never go back */
    state = next;
    receivedAt = Date.now();
    root.dataset.version = String(state.version);
    root.dataset.phase = String(state.phase);
    root.dataset.prompt = state.prompt || "";
    root.dataset.recording = state.recording.state;
    render();
    announce();
  }

  function announce() {  /* the recorder (recorder.js) and other listeners follow the shared state */
    document.dispatchEvent(new CustomEvent("oss:room-state", { detail: state }));
  }

  function render() {
    var phase = guide.phases[state.phase] || guide.phases[0];
    $("phase-title").textContent = phase.title;
    $("phase-text").textContent = phase.text || "";
    var prompt = state.prompt ? findPrompt(state.prompt) : null;
    $("prompt-text").textContent = prompt ? prompt.text : "No question in this part: talk freely.";
    $("prompt-hint").textContent = prompt && prompt.hint ? prompt.hint : "";
    var items = document.querySelectorAll("#room-phases li");
    for (var i = 0; i < items.length; i++) {
      if (Number(items[i].dataset.phase) === state.phase) { items[i].setAttribute("aria-current", "step"); }
      else { items[i].removeAttribute("aria-current"); }
    }
    var tips = $("tips-list");
    if (tips) {
      tips.textContent = "";
      (phase.tips || []).concat(guide.tips || []).forEach(function (tip) {
        var li = document.createElement("li"); li.textContent = tip; tips.appendChild(li);
      });
    }
    var begin = $("guide-begin");
    if (begin) { begin.hidden = state.timer.started; }
    renderRecording();
    renderTimer();
    if (state.cue) { showCue(state.cue.minutes, true); }
    if (state.ended) { ended("The conversation has ended. Thank you."); }
  }

  function renderRecording() {
    var recording = state.recording;
    var indicator = $("recording-indicator");
    var labels = { off: "Not recording", recording: "Recording", paused: "Recording paused", stopped: "Recording stopped" };
    indicator.dataset.state = recording.state;
    indicator.textContent = labels[recording.state] || recording.state;
    var consentList = $("consent-list");
    if (consentList) {
      var rows = consentList.querySelectorAll("li");
      for (var i = 0; i < rows.length; i++) {
        var id = Number(rows[i].dataset.user);
        var agreed = recording.consented.indexOf(id) !== -1;
        rows[i].textContent = (id === me.id ? "You" : nameOf(id)) + ": " + (agreed ? "agreed to be recorded" : "has not agreed yet");
        rows[i].dataset.agreed = agreed ? "true" : "false";
      }
    }
    var consent = $("recording-consent");
    if (consent) {
      var mine = recording.consented.indexOf(me.id) !== -1;
      consent.disabled = mine || recording.state === "stopped" || state.ended;
      consent.textContent = mine ? "You agreed to be recorded" : "I agree to be recorded";
    }
    toggle("recording-pause", recording.state === "recording");
    toggle("recording-resume", recording.state === "paused");
    toggle("recording-stop", recording.state === "recording" || recording.state === "paused");
  }

  function toggle(id, visible) { var node = $(id); if (node) { node.hidden = !visible || state.ended; } }

  function renderTimer() {
    var total = state.timer.total;
    var seconds = elapsed();
    $("timer-elapsed").textContent = clock(seconds);
    var left = total - seconds;
    $("timer-left").textContent = left >= 0 ? clock(left) + " left" : clock(-left) + " over time";
    if (state.timer.started) {
      (guide.cues || []).forEach(function (minutes) {
        if (left <= minutes * 60 && left > (minutes * 60) - 90 && !cuesShown[minutes]) { showCue(minutes, false); }
      });
    }
  }

  function showCue(minutes, fromFacilitator) {
    var key = (fromFacilitator ? "f" : "") + minutes + (fromFacilitator && state.cue ? state.cue.at : "");
    if (cuesShown[key]) { return; }
    cuesShown[key] = true;
    if (!fromFacilitator) { cuesShown[minutes] = true; }
    var text = minutes > 0 ? minutes + " minutes left." : "Time to close the conversation.";
    $("room-cue").textContent = (fromFacilitator ? "From the facilitator: " : "") + text;
  }

  /* --- members and the call ------------------------------------------------------------------- */

  function setMembers(list) {
    members = (list || []).filter(function (member) { return member.id !== me.id; });
    var line = $("members-line");
    if (line) {
      var here = members.map(function (member) { return member.name; });
      var list = here.join(" and ");
      line.textContent = here.length ? "In the room: you and " + list + (/\.$/.test(list) ? "" : ".")
        : "Nobody else is in the room yet.";
    }
    memberListeners.forEach(function (listener) { try { listener(members.slice()); } catch (error) { /* adapter's own */ } });
  }

  function setStatus(status, detail) {
    callStatus = status;
    var media = $("call-media");
    if (media) { media.dataset.callStatus = status; }
    var texts = { connecting: "Connecting the call…", connected: "Call connected.", reconnecting: "Reconnecting the call…",
                  disconnected: "The call is disconnected.", failed: "The call could not connect." };
    say(detail || texts[status] || status);
    if (!closed) { send("call_status", { status: status }); }
  }

  function showProblem(text) {
    var node = $("call-problem");
    if (node) { node.textContent = text || ""; node.hidden = !text; }
    if (text) { say(text); }
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return (meta && meta.getAttribute("content")) || data.csrfToken || "";
  }

  /* Opening the page changes nothing on the server: when the call room is not made yet, the page has no
     payload and asks for it here (the server makes the provider's room once), then starts the call. */
  var preparing = false;
  function prepareCall() {
    if (preparing || !data.call || !data.call.prepare || closed) { return; }
    preparing = true;
    window.fetch(data.call.prepare, { method: "POST", credentials: "same-origin", cache: "no-store",
                                      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" } })
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (response.redirected || type.indexOf("json") === -1) {
          throw new Error("The call could not start: the site answered " + response.status +
                          " without saying why. Reload the page.");
        }
        return response.json().then(function (answer) {
          if (!response.ok || !answer || !answer.payload) {
            throw new Error((answer && answer.error) || "The call could not start (the site answered " + response.status + ").");
          }
          return answer;
        });
      }, function () {
        throw new Error("The call could not start: the site did not answer. Check your connection, then press Reconnect the call.");
      })
      .then(function (answer) {
        preparing = false;
        data.call.provider = answer.provider;
        data.call.capabilities = answer.capabilities;
        data.call.payload = answer.payload;
        showProblem("");
        if (root.dataset.joined === "true") { startCall(); }
      }, function (error) {
        preparing = false;
        showProblem(error && error.message ? error.message : String(error));
      });
  }

  function startCall() {
    if (!data.call || adapter || closed) { return; }
    if (!data.call.payload) { prepareCall(); return; }
    if (!window.OssCall || !window.OssCall.has(data.call.provider)) {
      say("The call could not start: this page is missing the '" + data.call.provider + "' call script.");
      return;
    }
    var context = {
      conversationId: data.conversationId,
      me: me,
      container: $("call-media"),
      socket: socket,
      members: function () { return members.slice(); },
      onMembers: function (listener) { memberListeners.push(listener); },
      setStatus: setStatus,
      audioOnly: prefs.audioOnly,
      mediaConstraints: constraints()
    };
    try {
      adapter = window.OssCall.create(data.call.provider, data.call.payload, context);
      window.ossCallAdapter = adapter;
      setStatus("connecting");
      Promise.resolve(adapter.start()).catch(function (error) {
        setStatus("failed", "The call could not start: " + (error && error.message ? error.message : error));
      });
    } catch (error) {
      setStatus("failed", "The call could not start: " + (error && error.message ? error.message : error));
    }
  }

  function constraints() {
    return { audio: prefs.microphone ? { deviceId: { exact: prefs.microphone } } : true,
             video: prefs.audioOnly ? false : (prefs.camera ? { deviceId: { exact: prefs.camera } } : true) };
  }

  function closeRoom(message) {
    if (closed) { return; }  /* the first reason stands: a later refusal must not replace "has ended" */
    closed = true;
    if (adapter) { try { adapter.leave(); } catch (error) { /* already gone */ } adapter = null; }
    ended(message);
  }

  function ended(message) {
    var panel = $("room-ended");
    if (panel) { panel.hidden = false; $("room-ended-message").textContent = message; }
    var end = $("room-end");
    if (end) { end.hidden = true; }
    ["guide-next", "guide-pass", "guide-next-phase", "guide-begin", "recording-consent", "recording-pause",
     "recording-resume", "recording-stop"].forEach(function (id) { var node = $(id); if (node) { node.disabled = true; } });
    if (state.ended && adapter) { closeRoom(message); }
    say(message);
  }

  /* --- controls ----------------------------------------------------------------------------- */

  function on(id, handler) { var node = $(id); if (node) { node.addEventListener("click", handler); } }

  ["guide-next", "guide-pass", "guide-begin", "recording-resume"].forEach(function (id) {
    on(id, function (event) { act(event.currentTarget.dataset.action); });
  });
  ["recording-consent", "recording-pause", "recording-stop"].forEach(function (id) {
    on(id, function (event) { act(event.currentTarget.dataset.action); });
  });
  on("guide-next-phase", function () {
    if (state.phase + 1 < guide.phases.length) { act("phase", { phase: state.phase + 1 }); }
    else { say("This is the last part."); }
  });
  on("room-end", function () {
    if (window.confirm("End the conversation for everyone? The recording stops.")) { act("end"); }
  });
  document.querySelectorAll("button[data-prompt]").forEach(function (button) {  /* not #room's own data-prompt */
    button.addEventListener("click", function () { act("pick", { prompt_id: button.dataset.prompt }); });
  });
  document.querySelectorAll("[data-cue]").forEach(function (button) {
    button.addEventListener("click", function () { act("cue", { minutes: Number(button.dataset.cue) }); });
  });

  function pressed(id, value, onText, offText) {
    var node = $(id);
    if (!node) { return; }
    node.setAttribute("aria-pressed", value ? "true" : "false");
    node.textContent = value ? onText : offText;
  }
  on("control-mute", function () {
    prefs.muted = !prefs.muted;
    if (adapter && adapter.setMuted) { adapter.setMuted(prefs.muted); }
    pressed("control-mute", prefs.muted, "Unmute my microphone", "Mute my microphone");
  });
  on("control-camera", function () {
    prefs.cameraOff = !prefs.cameraOff;
    if (adapter && adapter.setCameraOff) { adapter.setCameraOff(prefs.cameraOff); }
    pressed("control-camera", prefs.cameraOff, "Turn my camera on", "Turn my camera off");
  });
  function audioOnly(value) {
    prefs.audioOnly = value;
    if (adapter && adapter.setAudioOnly) { adapter.setAudioOnly(value); }
    pressed("control-audio-only", value, "Video on again", "Audio only");
    var trouble = $("trouble-audio-only");
    if (trouble) { trouble.textContent = value ? "Switch video back on" : "Switch to audio only"; }
  }
  on("control-audio-only", function () { audioOnly(!prefs.audioOnly); });
  on("trouble-audio-only", function () { audioOnly(!prefs.audioOnly); });
  on("trouble-reconnect", function () {
    say("Reconnecting…");
    if (!socket.connected) { socket.connect(); }
    if (adapter && adapter.reconnect) { Promise.resolve(adapter.reconnect()).catch(function () { setStatus("failed"); }); }
    else { startCall(); }
  });
  on("trouble-devices", function () {
    prefs.microphone = $("device-microphone").value;
    prefs.camera = $("device-camera").value;
    if (adapter) { try { adapter.leave(); } catch (error) { /* gone */ } adapter = null; }
    memberListeners = [];
    startCall();
  });

  function listDevices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) { return; }
    navigator.mediaDevices.enumerateDevices().then(function (devices) {
      var selects = { audioinput: $("device-microphone"), videoinput: $("device-camera") };
      devices.forEach(function (device, index) {
        var select = selects[device.kind];
        if (!select || !device.deviceId) { return; }
        for (var i = 0; i < select.options.length; i++) { if (select.options[i].value === device.deviceId) { return; } }
        var option = document.createElement("option");
        option.value = device.deviceId;
        option.textContent = device.label || (device.kind === "audioinput" ? "Microphone " : "Camera ") + (index + 1);
        select.appendChild(option);
      });
    }).catch(function () { /* no permission yet */ });
  }
  var troubleDetails = document.querySelector("#trouble details");
  if (troubleDetails) { troubleDetails.addEventListener("toggle", listDevices); }

  var noteForm = $("note-form");
  if (noteForm) {
    noteForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var input = $("note-keywords");
      var text = input.value.trim();
      if (!text) { say("Write a few keywords first."); return; }
      send("room_note", { keywords: text }, function (answer) {
        if (!answer.ok) { return; }
        input.value = "";
        var li = document.createElement("li");
        li.textContent = clock(answer.note.offset_seconds) + " " + answer.note.keywords;
        $("note-list").appendChild(li);
      });
    });
  }

  /* --- the connection ------------------------------------------------------------------------ */

  function join() {
    send("room_join", {}, function (answer) {
      if (!answer.ok) { return; }
      root.dataset.joined = "true";
      setMembers(answer.members);
      if (answer.state) { apply(answer.state); }
      say(members.length ? "You are in the room." : "You are in the room. Waiting for the others.");
      startCall();
    });
  }

  socket.on("connect", function () { if (!closed) { join(); } });
  socket.on("disconnect", function () { if (!closed) { say("Connection to the site lost. Reconnecting…"); } });
  socket.on("room_state", function (next) { if (next && next.conversation_id === data.conversationId) { apply(next); } });
  socket.on("room_members", function (message) {
    if (message && message.conversation_id === data.conversationId) { setMembers(message.members); }
  });
  socket.on("member_status", function (message) {
    if (!message || message.conversation_id !== data.conversationId) { return; }
    if (message.status === "reconnecting" || message.status === "disconnected") {
      say(nameOf(message.user_id) + "'s connection is unstable; the call will reconnect by itself.");
    }
  });
  socket.on("room_closed", function (message) {
    if (message && message.conversation_id === data.conversationId) { closeRoom(message.message || "The conversation has ended."); }
  });
  if (socket.connected) { join(); }
  if (data.call && !data.call.payload) { prepareCall(); }  /* meanwhile the live connection opens */

  window.setInterval(function () { if (state.timer.started) { renderTimer(); } }, 500);
  render();
  window.ossRoom = { state: function () { return state; }, callStatus: function () { return callStatus; } };
  announce();
}());
