/* Job status: every .job-status[data-progress-url] whose work is under way polls its progress every 2 s and
   updates its bar and step; when the work ends the page reloads to show the outcome. The JSON names its
   state in words (status_label) and whether work is under way (active); recordings' older answers, without
   them, are read from their status. */
(function () {
  "use strict";
  var recordingLabels = { open: "Waiting for uploads", processing: "Processing", processed: "Processed", failed: "Failed" };
  function isActive(data) {
    if (typeof data.active === "boolean") { return data.active; }
    return data.status === "processing" || data.status === "open";
  }
  function poll(box) {
    fetch(box.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (!data.ok) { return; }
        var bar = box.querySelector("progress");
        if (bar) {
          bar.value = data.progress;
          bar.textContent = Math.round(data.progress * 100) + "%";
        }
        box.querySelector(".job-status-step").textContent = data.label || "";
        box.querySelector(".job-status-label").textContent = data.status_label || recordingLabels[data.status] || data.status;
        if (!isActive(data)) {
          window.location.reload();
          return;
        }
        box.dataset.status = data.status;
        window.setTimeout(function () { poll(box); }, 2000);
      })
      .catch(function () { window.setTimeout(function () { poll(box); }, 5000); });
  }
  var boxes = document.querySelectorAll(".job-status[data-progress-url]");
  for (var i = 0; i < boxes.length; i++) {
    var box = boxes[i];
    var active = box.dataset.active ? box.dataset.active === "true"
      : (box.dataset.status === "processing" || box.dataset.status === "open");
    if (active) { poll(box); }
  }
})();
