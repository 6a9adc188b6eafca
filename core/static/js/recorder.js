/* The in-room recorder: each participant's browser records its own microphone (Opus in WebM, one chunk
   per timeslice) while the room's recording is on. Every chunk is written to IndexedDB before it is
   uploaded, then uploaded in order with an idempotent PUT per (track, sequence) carrying its sha256, and
   removed from IndexedDB once the server holds it. After a network cut, a reload or a crash the page asks
   the server which sequences it holds, drops those, and uploads only the rest: nothing is sent twice.
   A reload mid-recording starts a new track (a new MediaRecorder run has its own WebM header); the old
   track is finished with the number of chunks recorded for it. The HTTP contract: docs/recording.md
   (GET status, POST tracks, PUT chunks, POST finish). Tests read window.ossRecorder. */
(function () {
  "use strict";
  var dataNode = document.getElementById("room-data");
  if (!dataNode) { return; }
  var data = JSON.parse(dataNode.textContent);
  if (!data.me || data.me.role !== "participant") { return; }  /* only the two participants record */

  var conversationId = data.conversationId;
  var urls = data.recording || {};
  var statusUrl = urls.status || "/conversations/" + conversationId + "/recording";
  var tracksUrl = urls.tracks || statusUrl + "/tracks";
  var MIME_TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus"];
  var BACKOFF_CAP_MS = 10000;
  var SIGNED_OUT = "The site asked you to sign in again. Sign in in another tab, then reload this page: " +
    "your recording is kept in this browser until it is uploaded.";

  var roomState = "off";          /* off | recording | paused | stopped, from room.js */
  var take = null;                /* the running MediaRecorder run of this page */
  var status = null;              /* the last GET status answer */
  var offsetMs = 0;               /* server clock minus this browser's clock */
  var createdHere = [];           /* ids of the tracks this page created, in order */
  var recorded = {};              /* track id -> chunks recorded by this page */
  var blocked = {};               /* track id -> the server's sentence: its uploads stopped */
  var unsaved = 0;                /* chunks handed over by MediaRecorder, not yet in IndexedDB */
  var pendingCount = 0;           /* last count of chunks not yet uploaded (for beforeunload) */
  var failures = 0;               /* consecutive failed attempts: the backoff grows with it */
  var retryTimer = null;
  var needStatus = true;          /* ask the server what it holds before the next upload */
  var pumping = false;
  var pumpAgain = false;
  var notice = "";                /* a sentence to show about a local failure (cleared by the next good take) */
  var syncTrouble = "";           /* why the last upload round failed for good (cleared by a good round) */
  var restarts = 0;               /* takes restarted because the microphone went away */
  var everRecorded = false;
  var ready;                      /* the start-up: leftovers of earlier pages found and queued */

  /* --- IndexedDB: stores chunks [trackId, sequence], tracks (per-track counter), finishes ----------- */

  var dbPromise = null;
  function db() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        if (!window.indexedDB) { reject(new Error("this browser cannot keep data (no IndexedDB)")); return; }
        var request = window.indexedDB.open("oss-recorder", 1);
        request.onupgradeneeded = function () {
          var base = request.result;
          if (!base.objectStoreNames.contains("chunks")) { base.createObjectStore("chunks", { keyPath: ["trackId", "sequence"] }); }
          if (!base.objectStoreNames.contains("tracks")) { base.createObjectStore("tracks", { keyPath: "trackId" }); }
          if (!base.objectStoreNames.contains("finishes")) { base.createObjectStore("finishes", { keyPath: "trackId" }); }
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = function () { reject(request.error); };
        request.onblocked = function () { reject(new Error("another tab holds an old version of the recorder's storage")); };
      });
    }
    return dbPromise;
  }

  /* Runs work(stores...) in one transaction; resolves with what work returned once it commits. */
  function transaction(names, mode, work) {
    return db().then(function (base) {
      return new Promise(function (resolve, reject) {
        var tx = base.transaction(names, mode);
        var result;
        tx.oncomplete = function () { resolve(result); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error || new Error("storage transaction aborted")); };
        result = work.apply(null, names.map(function (name) { return tx.objectStore(name); }));
      });
    });
  }

  function wrap(request) {  /* an IDBRequest as a holder of its result, read after commit */
    var holder = { value: undefined };
    request.onsuccess = function () { holder.value = request.result; };
    return holder;
  }

  function mine(record) { return record && record.conversationId === conversationId; }

  function readAll(name) {
    return transaction([name], "readonly", function (store) { return wrap(store.getAll()); })
      .then(function (holder) { return (holder.value || []).filter(mine); });
  }

  function trackRange(trackId) { return window.IDBKeyRange.bound([trackId, 0], [trackId, Infinity]); }

  function storeChunk(record) {  /* the chunk and its track's counter, together */
    return transaction(["chunks", "tracks"], "readwrite", function (chunks, tracks) {
      chunks.put(record);
      tracks.get(record.trackId).onsuccess = function (event) {
        var track = event.target.result || { trackId: record.trackId, conversationId: conversationId, count: 0 };
        track.count = Math.max(track.count || 0, record.sequence + 1);
        tracks.put(track);
      };
    });
  }

  function deleteChunks(trackId, sequences) {
    if (!sequences.length) { return Promise.resolve(); }
    return transaction(["chunks"], "readwrite", function (chunks) {
      sequences.forEach(function (sequence) { chunks.delete([trackId, sequence]); });
    });
  }

  function chunkKeys(trackId) {
    return transaction(["chunks"], "readonly", function (chunks) { return wrap(chunks.getAllKeys(trackRange(trackId))); })
      .then(function (holder) { return (holder.value || []).map(function (key) { return key[1]; }); });
  }

  function readChunk(trackId, sequence) {
    return transaction(["chunks"], "readonly", function (chunks) { return wrap(chunks.get([trackId, sequence])); })
      .then(function (holder) { return holder.value; });
  }

  function putRecord(name, record) {
    return transaction([name], "readwrite", function (store) { store.put(record); });
  }

  function forgetTrack(trackId) {  /* finished on the server: its counter and finish are no longer needed */
    return transaction(["tracks", "finishes"], "readwrite", function (tracks, finishes) {
      tracks.delete(trackId);
      finishes.delete(trackId);
    });
  }

  /* --- the server ------------------------------------------------------------------------------- */

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return (meta && meta.getAttribute("content")) || data.csrfToken || "";
  }

  /* Resolves {status, body} for a JSON answer; rejects with error.retry for network trouble and 5xx. */
  function call(method, url, body, headers) {
    var options = { method: method, credentials: "same-origin", headers: headers || {}, cache: "no-store" };
    if (method !== "GET") { options.headers["X-CSRFToken"] = csrfToken(); }
    if (body instanceof Blob) { options.body = body; }
    else if (body !== undefined) { options.body = JSON.stringify(body); options.headers["Content-Type"] = "application/json"; }
    return window.fetch(url, options).then(function (response) {
      if (response.status >= 500 || response.status === 429 || response.status === 408) {
        throw retryable("the site answered " + response.status);
      }
      var type = response.headers.get("Content-Type") || "";
      if (response.redirected || type.indexOf("json") === -1) {
        var error = new Error(response.redirected ? SIGNED_OUT : "The site answered " + response.status +
          " without saying why. Reload the page; your recording is kept in this browser until it is uploaded.");
        error.fatal = true;
        throw error;
      }
      return response.json().then(function (answer) { return { status: response.status, body: answer || {} }; });
    }, function (error) {
      throw retryable(error && error.message ? error.message : String(error));
    });
  }

  function retryable(message) { var error = new Error(message); error.retry = true; return error; }

  function refreshStatus() {
    var sent = Date.now();
    return call("GET", statusUrl).then(function (answer) {
      var received = Date.now();
      if (answer.status !== 200 || !answer.body.ok) {
        var error = new Error(answer.body.error || "The site did not say how your recording stands (" + answer.status + ").");
        error.fatal = true;
        throw error;
      }
      status = answer.body;
      if (typeof status.server_time_ms === "number") { offsetMs = status.server_time_ms - (sent + received) / 2; }
      return Promise.all((status.tracks || []).map(function (track) {
        return deleteChunks(track.id, track.held || []);  /* the server holds these: never send them again */
      }));
    }).then(function () { needStatus = false; return status; });
  }

  /* --- uploads ---------------------------------------------------------------------------------- */

  function kick(now) {
    if (now && retryTimer) { window.clearTimeout(retryTimer); retryTimer = null; failures = 0; }
    if (retryTimer) { return; }  /* waiting out a backoff: the timer pumps */
    pump();
  }

  function pump() {
    if (pumping) { pumpAgain = true; return; }
    pumping = true;
    pumpAgain = false;
    ready.then(function () { return exclusive("oss-recorder-upload-" + conversationId, uploadAll); }).then(function () {
      failures = 0;
      syncTrouble = "";
    }, function (error) {
      if (error && error.retry) {
        needStatus = true;  /* an answer may have been lost: ask what arrived before sending again */
        failures += 1;
        var delay = Math.min(BACKOFF_CAP_MS, 500 * Math.pow(2, failures));
        retryTimer = window.setTimeout(function () { retryTimer = null; pump(); }, delay);
      } else {
        syncTrouble = (error && error.message) || String(error);
      }
    }).then(function () {
      pumping = false;
      render();
      if (pumpAgain && !retryTimer) { pump(); }
    });
  }

  function uploadAll() {
    var start = needStatus ? refreshStatus() : Promise.resolve();
    return start.then(queueLeftovers).then(function () { return readAll("chunks"); }).then(function (chunks) {
      chunks.sort(function (a, b) { return a.trackId - b.trackId || a.sequence - b.sequence; });
      render();
      return chunks.reduce(function (previous, chunk) {
        return previous.then(function () { return blocked[chunk.trackId] ? null : upload(chunk.trackId, chunk.sequence, 0); });
      }, Promise.resolve());
    }).then(function () { return readAll("finishes"); }).then(function (finishes) {
      return finishes.reduce(function (previous, finish) {
        return previous.then(function () { return blocked[finish.trackId] ? null : sendFinish(finish); });
      }, Promise.resolve());
    });
  }

  function upload(trackId, sequence, checksumFailures) {
    return readChunk(trackId, sequence).then(function (chunk) {
      if (!chunk) { return null; }  /* already uploaded and removed */
      var url = tracksUrl + "/" + trackId + "/chunks/" + sequence;
      return call("PUT", url, chunk.blob, { "Content-Type": "audio/webm", "X-Chunk-SHA256": chunk.sha256 })
        .then(function (answer) {
          if (answer.status === 200 || answer.status === 201) {
            return deleteChunks(trackId, [sequence]).then(render);
          }
          if (answer.status === 422 && checksumFailures < 2) {  /* damaged on the way: send the stored bytes again */
            return upload(trackId, sequence, checksumFailures + 1);
          }
          if (answer.status === 422) { throw retryable("the chunk keeps arriving damaged"); }
          stopTrack(trackId, answer);
          return null;
        });
    });
  }

  function stopTrack(trackId, answer) {
    blocked[trackId] = (answer.body && answer.body.error) ||
      "The site refused part of your recording (" + answer.status + "). Reload the page to try again.";
  }

  function problem() {  /* the sentence to show: a refusal by the server first, else a local failure */
    var ids = Object.keys(blocked);
    return ids.length ? blocked[ids[0]] : notice || syncTrouble;
  }

  function sendFinish(finish) {
    return chunkKeys(finish.trackId).then(function (left) {
      if (left.length) { return null; }  /* its chunks go first */
      return call("POST", tracksUrl + "/" + finish.trackId + "/finish", { chunks: finish.chunks }).then(function (answer) {
        if (answer.status === 200 && answer.body.ok) { return forgetTrack(finish.trackId); }
        stopTrack(finish.trackId, answer);
        return null;
      });
    });
  }

  /* One holder at a time across this browser's tabs (Web Locks): one tab uploads a round, and a track
     recording in another tab is not taken for a leftover. Without Web Locks, just run. */
  function exclusive(name, work) {
    if (navigator.locks && navigator.locks.request) { return navigator.locks.request(name, function () { return work(); }); }
    return Promise.resolve().then(work);
  }

  function lockedNames() {
    if (!(navigator.locks && navigator.locks.query)) { return Promise.resolve([]); }
    return navigator.locks.query().then(function (snapshot) {
      return (snapshot.held || []).map(function (lock) { return lock.name; });
    }, function () { return []; });
  }

  /* Tracks that earlier pages recorded and could not finish (a reload or a crash): finish them with the
     number of chunks recorded for them; a track still recording in another tab is left alone. */
  function queueLeftovers() {
    return Promise.all([readAll("tracks"), readAll("finishes"), lockedNames()]).then(function (found) {
      var finished = {};
      found[1].forEach(function (finish) { finished[finish.trackId] = true; });
      return Promise.all(found[0].filter(function (track) {
        return !finished[track.trackId] && createdHere.indexOf(track.trackId) === -1 &&
          found[2].indexOf("oss-recorder-track-" + track.trackId) === -1;
      }).map(function (track) {
        return putRecord("finishes", { trackId: track.trackId, conversationId: conversationId, chunks: track.count || 0 });
      }));
    });
  }

  /* --- recording -------------------------------------------------------------------------------- */

  function deferred() {
    var holder = {};
    holder.promise = new Promise(function (resolve) { holder.resolve = resolve; });
    return holder;
  }

  function wait(ms) { return new Promise(function (resolve) { window.setTimeout(resolve, ms); }); }

  function asStream(source) {
    if (!source) { return null; }
    if (window.MediaStreamTrack && source instanceof window.MediaStreamTrack) {
      return source.readyState === "live" ? new MediaStream([source]) : null;
    }
    if (source.getAudioTracks) {
      var live = source.getAudioTracks().filter(function (track) { return track.readyState === "live"; });
      return live.length ? new MediaStream(live) : null;
    }
    return null;
  }

  /* The call's own microphone when the call has it (never stopped here), else one opened for the recorder. */
  function microphone(attempt) {
    var adapter = window.ossCallAdapter;
    var asked = adapter && typeof adapter.microphone === "function" ? Promise.resolve(adapter.microphone()) : Promise.resolve(null);
    return asked.catch(function () { return null; }).then(function (source) {
      var stream = asStream(source);
      if (stream) { return { stream: stream, own: false }; }
      if (adapter && attempt < 6) { return wait(500).then(function () { return microphone(attempt + 1); }); }  /* the call is still opening it */
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        throw new Error("this browser cannot record a microphone; please use a recent Firefox, Chrome or Edge.");
      }
      return navigator.mediaDevices.getUserMedia({ audio: true }).then(function (opened) {
        return { stream: new MediaStream(opened.getAudioTracks()), own: true };
      });
    });
  }

  function mimeType() {
    for (var i = 0; i < MIME_TYPES.length; i++) { if (window.MediaRecorder.isTypeSupported(MIME_TYPES[i])) { return MIME_TYPES[i]; } }
    return "";
  }

  function ensureStatus() {
    if (status) { return Promise.resolve(status); }
    return refreshStatus().catch(function (error) {
      if (error && error.retry && roomState === "recording") { return wait(2000).then(ensureStatus); }
      throw error;
    });
  }

  function startTake() {
    var run = { starting: true, sequence: 0, stopRequested: false, track: deferred(), done: deferred(),
                storing: Promise.resolve() };
    take = run;
    render();
    ready.then(ensureStatus).then(function () {
      if (!window.MediaRecorder) { throw new Error("this browser cannot record; please use a recent Firefox, Chrome or Edge."); }
      return microphone(0);
    }).then(function (mic) {
      if (take !== run || roomState !== "recording" || roomClosed()) {  /* paused or stopped meanwhile: a resume starts afresh */
        release(mic);
        if (take === run) { take = null; }
        run.track.resolve(null);
        return;
      }
      var type = mimeType();
      if (!type) {
        release(mic);
        throw new Error("this browser cannot record Opus audio, the format the site keeps. Please use a recent " +
          "Firefox, Chrome or Edge.");
      }
      var recorder = new window.MediaRecorder(mic.stream, { mimeType: type });
      run.recorder = recorder;
      run.mic = mic;
      run.mime = type;
      recorder.addEventListener("start", function () { createTrack(run, Date.now() + offsetMs); });
      recorder.addEventListener("dataavailable", function (event) { onData(run, event.data); });
      recorder.addEventListener("stop", function () { onStop(run); });
      recorder.addEventListener("error", function (event) {
        notice = "Your recording stopped: " + (event.error && event.error.message ? event.error.message : "the browser's recorder failed") + ".";
        render();
      });
      recorder.start(Math.max(1, status.timeslice_seconds || 5) * 1000);
      run.starting = false;
      everRecorded = true;
      notice = "";
      render();
    }).catch(function (error) {
      notice = "Your recording could not start: " + (error && error.name === "NotAllowedError"
        ? "this browser did not allow the site to use your microphone. Allow it (the lock or microphone icon in " +
          "the address bar), then reload the page."
        : (error && error.message ? error.message : String(error)));
      if (take === run) { take = null; }
      run.track.resolve(null);
      render();
    });
  }

  function createTrack(run, startedAtMs) {
    var body = { started_at_ms: Math.round(startedAtMs), mime_type: run.mime };
    function attempt(tries) {
      return call("POST", tracksUrl, body).then(function (answer) {
        if (answer.status === 201 && answer.body.ok) { return answer.body.track.id; }
        if (answer.status !== 409 || answer.body.code !== "not_recording") { notice = answer.body.error || notice; }
        return null;
      }, function (error) {
        if (error.retry && !run.stopRequested) { return wait(Math.min(BACKOFF_CAP_MS, 500 * Math.pow(2, tries + 1))).then(function () { return attempt(tries + 1); }); }
        if (!error.retry) { notice = error.message; }
        return null;
      });
    }
    attempt(0).then(function (trackId) {
      if (trackId === null) {
        if (run.recorder && run.recorder.state !== "inactive") { run.stopRequested = true; run.recorder.stop(); }
        run.track.resolve(null);
        render();
        return;
      }
      createdHere.push(trackId);
      recorded[trackId] = recorded[trackId] || 0;
      exclusive("oss-recorder-track-" + trackId, function () { return run.done.promise; }).catch(function () {});
      putRecord("tracks", { trackId: trackId, conversationId: conversationId, count: 0, startedAtMs: body.started_at_ms })
        .catch(function () { /* the counter is also written with each chunk */ })
        .then(function () { run.track.resolve(trackId); });
    });
  }

  function onData(run, blob) {
    if (!blob || !blob.size) { return; }  /* an empty slice takes no sequence number */
    var sequence = run.sequence;
    run.sequence += 1;
    unsaved += 1;
    render();
    run.storing = run.storing.then(function () { return run.track.promise; }).then(function (trackId) {
      if (trackId === null) { return null; }
      recorded[trackId] = Math.max(recorded[trackId] || 0, sequence + 1);
      return blob.arrayBuffer().then(function (bytes) { return window.crypto.subtle.digest("SHA-256", bytes); })
        .then(function (digest) {
          return storeChunk({ conversationId: conversationId, trackId: trackId, sequence: sequence, blob: blob,
                              sha256: hex(digest), size: blob.size });
        });
    }).catch(function (error) {
      notice = "Part of your recording could not be kept in this browser: " + (error && error.message ? error.message : error);
    }).then(function () {
      unsaved -= 1;
      kick(false);
    });
  }

  function onStop(run) {
    release(run.mic);
    if (take === run) { take = null; }
    run.storing = run.storing.then(function () { return run.track.promise; }).then(function (trackId) {
      if (trackId === null) { return null; }
      return putRecord("finishes", { trackId: trackId, conversationId: conversationId, chunks: run.sequence });
    }).catch(function (error) {
      notice = "The end of your recording could not be noted in this browser: " + (error && error.message ? error.message : error);
    }).then(function () { run.done.resolve(); kick(false); });
    if (!run.stopRequested && roomState === "recording" && !roomClosed() && restarts < 5) {  /* the microphone went away (the call restarted): a new take */
      restarts += 1;
      wait(1000).then(function () { if (!take && roomState === "recording" && !roomClosed()) { startTake(); } });
    }
    render();
  }

  function roomClosed() {  /* room.js showed "the conversation has ended" (an end, a report, a refusal) */
    var panel = document.getElementById("room-ended");
    return !!(panel && !panel.hidden);
  }

  function release(mic) {  /* stop only what the recorder opened itself: the call's microphone stays on */
    if (mic && mic.own) { mic.stream.getTracks().forEach(function (track) { track.stop(); }); }
  }

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (byte) { return (byte < 16 ? "0" : "") + byte.toString(16); }).join("");
  }

  function onRoomState(next) {
    if (!next || !next.recording) { return; }
    roomState = next.ended ? "stopped" : next.recording.state;
    var recorder = take && take.recorder;
    if (roomState === "recording") {
      if (!take) { startTake(); }
      else if (recorder && recorder.state === "paused") { recorder.resume(); }
    } else if (roomState === "paused") {
      if (recorder && recorder.state === "recording") { recorder.pause(); }
    } else if (roomState === "stopped" || roomState === "off") {
      if (take) {
        take.stopRequested = true;
        if (recorder && recorder.state !== "inactive") { recorder.stop(); }
      }
    }
    render();
  }

  /* --- what the page shows ---------------------------------------------------------------------- */

  function pending() {
    return readAll("chunks").then(function (chunks) { return chunks.length + unsaved; }, function () { return unsaved; });
  }

  function recorderState() {
    if (take && take.starting) { return "starting"; }
    if (take && take.recorder) { return take.recorder.state; }  /* recording | paused | inactive */
    return "inactive";
  }

  var renderQueued = false;
  function render() {
    if (renderQueued) { return; }
    renderQueued = true;
    window.setTimeout(function () {
      renderQueued = false;
      pending().then(show);
    }, 0);
  }

  function show(count) {
    pendingCount = count;
    var node = document.getElementById("recording-upload");
    if (!node) { return; }
    node.dataset.pending = String(count);
    node.dataset.state = recorderState();
    var text = "";
    var waiting = count === 1 ? "1 chunk" : count + " chunks";
    var anything = everRecorded || !!(status && status.tracks && status.tracks.length);
    var trouble = problem();
    if (trouble) {
      text = trouble + (count ? " Your recording: " + waiting + " waiting to upload." : "");
    } else if (count && (retryTimer || !navigator.onLine || count > 1 || roomState !== "recording")) {
      /* one chunk in flight while recording is the normal rhythm: not worth announcing every few seconds */
      text = "Your recording: " + waiting + " waiting to upload. Keep this page open; they upload by themselves.";
    } else if (take && roomState === "recording") {
      text = "Your microphone is being recorded and uploaded as you talk.";
    } else if (anything) {
      text = "All of your recording is uploaded.";
    }
    if (node.textContent !== text) { node.textContent = text; }
    node.dataset.problem = trouble ? "true" : "false";
  }

  /* --- wiring ----------------------------------------------------------------------------------- */

  window.addEventListener("beforeunload", function (event) {
    if (pendingCount > 0 || unsaved > 0) {
      event.preventDefault();
      event.returnValue = "Part of your recording is not uploaded yet. Stay on this page until it is.";
      return event.returnValue;
    }
    return undefined;
  });
  window.addEventListener("online", function () { needStatus = true; kick(true); });
  window.addEventListener("offline", render);
  document.addEventListener("oss:room-state", function (event) { onRoomState(event.detail); });

  ready = queueLeftovers().catch(function (error) {
    notice = "Your recording cannot be kept in this browser: " + (error && error.message ? error.message : error) +
      ". Use a normal (not private) window of a recent browser.";
  });
  kick(false);
  if (window.ossRoom && window.ossRoom.state) { onRoomState(window.ossRoom.state()); }

  window.ossRecorder = {
    pending: pending,
    state: recorderState,
    trackIds: function () { return createdHere.slice(); },
    recorded: function () { var copy = {}; Object.keys(recorded).forEach(function (id) { copy[id] = recorded[id]; }); return copy; },
    problem: problem
  };
}());
