// Drives plugins/call_livekit/static/livekit.js against a fake LivekitClient (node, no browser):
// prints one JSON line of what the adapter did; tests/test_call_livekit.py checks it.
"use strict";
const fs = require("fs");
const vm = require("vm");

const log = {connected: [], local: [], statuses: [], details: [], disconnected: 0};
const RoomEvent = {
  TrackSubscribed: "trackSubscribed", TrackUnsubscribed: "trackUnsubscribed", TrackPublished: "trackPublished",
  TrackMuted: "trackMuted", TrackUnmuted: "trackUnmuted", ParticipantConnected: "participantConnected",
  ParticipantDisconnected: "participantDisconnected", Reconnecting: "reconnecting", Reconnected: "reconnected",
  Disconnected: "disconnected", AudioPlaybackStatusChanged: "audioPlaybackChanged",
  MediaDevicesError: "mediaDevicesError", LocalTrackPublished: "localTrackPublished",
  LocalTrackUnpublished: "localTrackUnpublished",
};

class FakeRoom {
  constructor(options) {
    this.listeners = {};
    this.state = "disconnected";
    this.canPlaybackAudio = true;
    this.remoteParticipants = new Map();
    log.roomOptions = log.roomOptions || options;
    const calls = this.calls = [];
    this.localParticipant = {
      setMicrophoneEnabled(value) { calls.push(["microphone", value]); log.local.push(["microphone", value]); return Promise.resolve(); },
      setCameraEnabled(value) { calls.push(["camera", value]); log.local.push(["camera", value]); return Promise.resolve(); },
      getTrackPublication(source) { return source === "microphone" ? {track: {mediaStreamTrack: "mic-track"}} : undefined; },
    };
    FakeRoom.last = this;
  }
  on(name, fn) { this.listeners[name] = fn; return this; }
  fire(name, ...args) { if (this.listeners[name]) { this.listeners[name](...args); } }
  connect(url, token) {
    log.connected.push([url, token]);
    if (token === "expired") {
      return Promise.reject(Object.assign(new Error("could not establish signal connection"), {status: 401, reason: 0}));
    }
    this.state = "connected";
    return Promise.resolve();
  }
  disconnect() {
    log.disconnected += 1;
    this.state = "disconnected";
    this.fire(RoomEvent.Disconnected, 1);
    return Promise.resolve();
  }
  startAudio() { return Promise.resolve(); }
}

function node() {
  return {
    children: [], attributes: {}, parentNode: null, style: {},
    get firstChild() { return this.children[0] || null; },
    setAttribute(name, value) { this.attributes[name] = value; },
    appendChild(child) { child.parentNode = this; this.children.push(child); return child; },
    insertBefore(child) { child.parentNode = this; this.children.unshift(child); return child; },
    removeChild(child) { this.children = this.children.filter((c) => c !== child); child.parentNode = null; return child; },
    addEventListener() {},
  };
}
let factory = null;
const sandbox = {
  window: {
    LivekitClient: {Room: FakeRoom, RoomEvent, Track: {Source: {Camera: "camera", Microphone: "microphone"}},
                    DisconnectReason: {CLIENT_INITIATED: 1, DUPLICATE_IDENTITY: 2, PARTICIPANT_REMOVED: 4, ROOM_DELETED: 5},
                    ConnectionErrorReason: {NotAllowed: 0}},
    console: {warn() {}},
  },
  document: {createElement: () => node()}, setTimeout, clearTimeout, Promise, Number, Object, Array,
};
sandbox.window.OssCall = {register(name, fn) { log.registered = name; factory = fn; }};
vm.runInNewContext(fs.readFileSync(process.argv[2], "utf8"), sandbox);

function context(role, statuses) {
  return {
    conversationId: 1, me: {id: role === "admin" ? 1 : 7, name: "Ana", role}, container: node(), audioOnly: true,
    mediaConstraints: {audio: {deviceId: {exact: "mic-2"}}, video: false},
    setStatus(status, detail) { statuses.push([status, detail]); }, members: () => [{id: 8, name: "Ben", role: "participant"}],
    onMembers() {},
  };
}
const payload = {url: "wss://livekit.example.org", token: "token-1", room: "oss-abc"};
(async () => {
  const seen = [];
  const adapter = factory(payload, context("participant", seen));
  await adapter.start();
  FakeRoom.last.remoteParticipants.set("8", {identity: "8", name: "Ben", trackPublications: new Map()});
  FakeRoom.last.fire(RoomEvent.ParticipantConnected, FakeRoom.last.remoteParticipants.get("8"));
  adapter.setMuted(true);
  adapter.setCameraOff(true);
  adapter.setAudioOnly(false);
  adapter.setCameraOff(false);
  log.microphone = adapter.microphone();
  const before = log.local.length;
  await adapter.reconnect();
  log.afterReconnect = log.connected.slice();
  adapter.leave();
  log.local = log.local.slice(0, before);
  log.statuses = seen.map((entry) => entry[0]);
  log.details = seen.map((entry) => entry[1]);

  const disconnectedBefore = log.disconnected;
  const admin = factory(payload, context("admin", []));
  await admin.start();
  log.adminLocal = FakeRoom.last.calls;
  admin.leave();
  log.adminDisconnected = log.disconnected - disconnectedBefore;
  log.disconnected = disconnectedBefore;

  const refusedStatuses = [];
  const refused = factory({...payload, token: "expired"}, context("participant", refusedStatuses));
  await refused.start().then(() => { throw new Error("an expired token joined"); }, () => {});
  log.refused = refusedStatuses[refusedStatuses.length - 1];
  console.log(JSON.stringify(log));
})().catch((error) => { console.log(JSON.stringify({error: String(error && error.stack || error)})); process.exit(1); });
