/* Job status: every .job-status[data-progress-url] that is processing polls its progress every 2 s and
   updates its bar and step; when it finishes the page reloads to show the files. */
(function () {
  "use strict";
  var labels = { open: "Waiting for uploads", processing: "Processing", processed: "Processed", failed: "Failed" };
  function poll(box) {
    fetch(box.dataset.progressUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (!data.ok) { return; }
        var bar = box.querySelector("progress");
        bar.value = data.progress;
        bar.textContent = Math.round(data.progress * 100) + "%";
        box.querySelector(".job-status-step").textContent = data.label || "";
        box.querySelector(".job-status-label").textContent = labels[data.status] || data.status;
        if (data.status !== box.dataset.status && (data.status === "processed" || data.status === "failed")) {
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
    if (boxes[i].dataset.status === "processing" || boxes[i].dataset.status === "open") { poll(boxes[i]); }
  }
})();
