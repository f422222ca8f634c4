// The secretary's upload page: files dropped on the zone (or chosen with the input) are sent
// one request per file, a few at a time, to the upload API; each row shows the bytes sent, then
// the pipeline state of its version, polled until it is ready or stopped (with the API's reason).
// XMLHttpRequest rather than fetch: fetch reports no upload progress.

const parallel = () => Number(document.getElementById("upload-form").dataset.parallel || 3);
const POLL_MS = 800;
const TERMINAL = new Set(["ready", "quarantined", "failed"]);

const form = document.getElementById("upload-form");
const zone = document.getElementById("drop-zone");
const input = document.getElementById("upload-files");
const table = document.getElementById("uploads");
const body = table.querySelector("tbody");
const summary = document.getElementById("upload-summary");
const STATES = JSON.parse(document.getElementById("state-labels").textContent);
const T = JSON.parse(document.getElementById("upload-messages").textContent);
const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

const rows = [];
const waiting = [];
let running = 0;

function titleOf(name) {
  const dot = name.lastIndexOf(".");
  return (dot > 0 ? name.slice(0, dot) : name).replace(/[_-]+/g, " ").trim() || name;
}

function cell(tr, index) {
  return tr.children[index];
}

function addRow(file) {
  const tr = document.createElement("tr");
  tr.dataset.file = file.name;
  tr.dataset.state = "waiting";
  const name = document.createElement("td");
  name.textContent = file.name;
  const sent = document.createElement("td");
  const bar = document.createElement("progress");
  bar.max = file.size || 1;
  bar.value = 0;
  sent.append(bar);
  const state = document.createElement("td");
  state.className = "state";
  const details = document.createElement("td");
  details.className = "details";
  tr.append(name, sent, state, details);
  body.append(tr);
  table.hidden = false;
  const row = { file, tr, bar, itemId: form.elements.item_id.value, classification: form.elements.classification.value, kind: form.elements.kind.value };
  rows.push(row);
  return row;
}

function show(row, state, label, detail) {
  row.tr.dataset.state = state;
  cell(row.tr, 2).textContent = label;
  const details = cell(row.tr, 3);
  details.replaceChildren();
  if (detail) details.append(detail);
  updateSummary();
}

function updateSummary() {
  const count = (pred) => rows.filter((r) => pred(r.tr.dataset.state)).length;
  const ready = count((s) => s === "ready");
  const stopped = count((s) => s === "quarantined" || s === "failed" || s === "refused");
  const values = { total: rows.length, ready, stopped, busy: rows.length - ready - stopped };
  summary.textContent = T.summary.replace(/%\((\w+)\)s/g, (_, key) => values[key]);
  summary.dataset.total = rows.length;
  summary.dataset.done = ready + stopped;
}

function versionDetail(version) {
  const box = document.createDocumentFragment();
  if (version.state_message) {
    const reason = document.createElement("span");
    reason.className = "reason";
    reason.dataset.code = version.state_reason || "";
    reason.textContent = version.state_message;
    box.append(reason);
  }
  if (version.disarm_removed && version.disarm_removed.length) {
    const removed = document.createElement("span");
    removed.className = "disarmed";
    removed.textContent = `${T.disarmed} ${version.disarm_removed.join("; ")}`;
    box.append(removed);
  }
  if (version.state === "ready") {
    const link = document.createElement("a");
    link.className = "button";
    link.href = `/documents/versions/${version.id}/read/`;
    link.textContent = T.read;
    box.append(link);
  }
  return box;
}

function showVersion(row, version) {
  row.tr.dataset.version = version.id;
  show(row, version.state, STATES[version.state] || version.state, versionDetail(version));
}

async function poll(row, versionId) {
  for (;;) {
    try {
      const response = await fetch(`/api/v1/documents/versions/${versionId}`, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const version = await response.json();
        showVersion(row, version);
        if (TERMINAL.has(version.state)) return;
      }
    } catch (err) {
      // a dropped connection while polling: try again at the next tick
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function send(row) {
  return new Promise((resolve) => {
    const data = new FormData();
    data.append("file", row.file, row.file.name);
    data.append("title", titleOf(row.file.name));
    data.append("classification", row.classification);
    data.append("kind", row.kind);
    data.append("meeting_id", form.dataset.meeting);
    if (row.itemId) data.append("item_id", row.itemId);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/documents");
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (event) => {
      row.bar.max = event.total || row.bar.max;
      row.bar.value = event.loaded;
    };
    xhr.onload = () => {
      row.bar.value = row.bar.max;
      let answer = {};
      try {
        answer = JSON.parse(xhr.responseText);
      } catch (err) {
        answer = {};
      }
      if (xhr.status === 201) {
        showVersion(row, answer);
        resolve(TERMINAL.has(answer.state) ? null : poll(row, answer.id));
      } else {
        const reason = document.createElement("span");
        reason.className = "reason";
        reason.dataset.code = answer.code || String(xhr.status);
        reason.textContent = answer.detail || answer.title || xhr.statusText;
        show(row, "refused", T.refused, reason);
        resolve(null);
      }
    };
    xhr.onerror = () => {
      show(row, "refused", T.refused, document.createTextNode(T.network));
      resolve(null);
    };
    show(row, "sending", T.uploading, null);
    xhr.send(data);
  });
}

function pump() {
  while (running < parallel() && waiting.length) {
    const row = waiting.shift();
    running += 1;
    send(row).then(() => {
      running -= 1;
      pump();
    });
  }
}

function take(files) {
  for (const file of files) waiting.push(addRow(file));
  pump();
}

input.addEventListener("change", () => {
  take([...input.files]);
  input.value = "";
});
zone.addEventListener("dragover", (event) => {
  event.preventDefault();
  zone.classList.add("over");
});
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", (event) => {
  event.preventDefault();
  zone.classList.remove("over");
  if (event.dataTransfer && event.dataTransfer.files.length) take([...event.dataTransfer.files]);
});
zone.addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    input.click();
  }
});
form.dataset.ready = "1";
