// Drives plugins/call_jitsi/static/jitsi.js against a fake JitsiMeetExternalAPI (node, no browser):
// prints one JSON line of what the adapter did; tests/test_call_jitsi.py checks it.
"use strict";
const fs = require("fs");
const vm = require("vm");

const log = {constructed: [], commands: [], statuses: [], disposed: 0};
let muted = {audio: false, video: false};
class FakeApi {
  constructor(domain, options) {
    this.listeners = {};
    log.constructed.push({domain, options: {...options, parentNode: options.parentNode === container}});
    FakeApi.last = this;
  }
  addEventListener(name, fn) { this.listeners[name] = fn; }
  fire(name, event) { if (this.listeners[name]) { this.listeners[name](event); } }
  executeCommand(name) {
    log.commands.push(name);
    if (name === "toggleAudio") { muted.audio = !muted.audio; }
    if (name === "toggleVideo") { muted.video = !muted.video; }
  }
  isAudioMuted() { return Promise.resolve(muted.audio); }
  isVideoMuted() { return Promise.resolve(muted.video); }
  dispose() { log.disposed += 1; }
}
const container = {firstChild: null, removeChild() {}};
let factory = null;
const sandbox = {
  window: {JitsiMeetExternalAPI: FakeApi}, navigator: {}, document: {}, setTimeout, clearTimeout, Promise,
  OssCall: {register(name, fn) { log.registered = name; factory = fn; }},
};
vm.runInNewContext(fs.readFileSync(process.argv[2], "utf8"), sandbox);

const context = {
  conversationId: 1, me: {id: 7, name: "Ana", role: "participant"}, container, audioOnly: true,
  setStatus(status, detail) { log.statuses.push(status); }, members: () => [], onMembers() {},
};
const adapter = factory({domain: "meet.example.org", room: "abc", jwt: "token"}, context);
(async () => {
  const started = adapter.start();
  await new Promise((resolve) => setTimeout(resolve, 10));
  FakeApi.last.fire("videoConferenceJoined", {});
  await started;
  log.joined = true;
  await adapter.setMuted(true);
  await adapter.setMuted(true);   // already muted: no second toggle
  await adapter.setCameraOff(true);
  await adapter.setAudioOnly(false);
  FakeApi.last.fire("participantJoined", {id: "x"});
  FakeApi.last.fire("readyToClose", {});
  log.microphone = adapter.microphone();
  adapter.leave();
  console.log(JSON.stringify(log));
})().catch((error) => { console.log(JSON.stringify({error: String(error)})); process.exit(1); });
