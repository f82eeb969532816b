// carbonlens dashboard: live figures of runs in progress.
// Elements marked data-live-run="RUN_ID" have children marked data-field="NAME";
// every few seconds their text is replaced by the figures of /api/live. A run
// section with data-section-src is re-fetched when its run has new samples, and
// the page reloads once a run is no longer running. Same-origin requests only.
(function () {
  "use strict";
  var PERIOD_MS = 5000;
  var marked = document.querySelectorAll("[data-live-run]");
  if (!marked.length) {
    return;
  }
  var ids = [];
  var seen = {};
  marked.forEach(function (node) {
    var id = node.getAttribute("data-live-run");
    if (!seen[id]) {
      seen[id] = null;
      ids.push(id);
    }
  });
  var query = ids.map(function (id) { return "run=" + encodeURIComponent(id); }).join("&");

  function refreshSection(run) {
    document.querySelectorAll("[data-section-src]").forEach(function (node) {
      if (node.getAttribute("data-live-run") !== run.run_id) {
        return;
      }
      fetch(node.getAttribute("data-section-src"), { credentials: "same-origin" })
        .then(function (answer) { return answer.ok ? answer.text() : null; })
        .then(function (html) {
          if (html !== null) {
            node.innerHTML = html;
          }
        });
    });
  }

  function show(data) {
    var finished = false;
    data.runs.forEach(function (run) {
      marked.forEach(function (node) {
        if (node.getAttribute("data-live-run") !== run.run_id) {
          return;
        }
        node.querySelectorAll("[data-field]").forEach(function (field) {
          var value = run[field.getAttribute("data-field")];
          if (typeof value === "string" && value && field.getAttribute("data-field") !== "status") {
            field.textContent = value;
          }
        });
      });
      if (seen[run.run_id] !== run.duration_s) {
        refreshSection(run);
      }
      seen[run.run_id] = run.duration_s;
      if (run.status !== "running") {
        finished = true;
      }
    });
    return finished;
  }

  function poll() {
    fetch("/api/live?" + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) {
        if (!answer.ok) {
          throw new Error("live update: HTTP " + answer.status);
        }
        return answer.json();
      })
      .then(function (data) {
        if (show(data)) {
          window.location.reload();
        } else {
          window.setTimeout(poll, PERIOD_MS);
        }
      })
      .catch(function () { window.setTimeout(poll, PERIOD_MS * 4); });
  }

  window.setTimeout(poll, PERIOD_MS);
})();
