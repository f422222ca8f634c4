// The poll page: build the canonical ballot (RFC 8785), sign it with this tablet's non-extractable
// key (stored by the enrolment page), send it with the one-time code (the step-up), show the
// receipt and check its inclusion proof against the signed audit checkpoint. The chair's page
// opens and closes the vote and shows results as they arrive on the meeting's WebSocket.

import { listKeys, signWithDeviceKey, sha256Hex } from "../pki/enrol.js";

const root = document.getElementById("poll");
const labels = JSON.parse(document.getElementById("vote-labels").textContent);
const certificates = JSON.parse(document.getElementById("vote-certificates").textContent);
const options = JSON.parse(document.getElementById("vote-options").textContent);
const api = root.dataset.api;
const RECEIPTS = `ecabinet-receipts-${root.dataset.poll}-${root.dataset.voter}`;

// --- canonical JSON -------------------------------------------------------------------------
// A ballot holds only ASCII member names, strings and integers. For those, JSON.stringify writes
// exactly what RFC 8785 prescribes; members are sorted (ASCII order = UTF-16 order here).
export function canonical(value) {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isSafeInteger(value)) throw new Error("only integers");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
}

function base64(bytes) {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

function nonce() {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return base64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function hexToBytes(hex) {
  return Uint8Array.from(hex.match(/.{2}/g), (h) => parseInt(h, 16));
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

async function api_call(method, path, body) {
  const response = await fetch(api + path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": root.dataset.csrf },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(`${data.code || response.status}: ${data.detail || data.title || ""}`);
    error.code = data.code;
    throw error;
  }
  return data;
}

// --- the device key ---------------------------------------------------------------------------

async function usableKeys() {
  let stored = [];
  try {
    stored = await listKeys();
  } catch {
    return [];
  }
  const here = new Set(stored.map((k) => k.spki_sha256));
  return certificates.filter((c) => here.has(c.spki_sha256));
}

// --- casting ----------------------------------------------------------------------------------

async function cast(form, status) {
  const choice = form.querySelector("input[name=choice]:checked")?.value;
  if (!choice) throw new Error(labels.choose);
  const code = form.totp.value.trim();
  if (!code) throw new Error(labels.code);
  const cert = certificates.find((c) => c.fingerprint === form.device_key.value);
  if (!cert) throw new Error(labels.no_key);
  status.textContent = labels.signing;
  const ballot = canonical({
    format: "ecabinet-ballot/1",
    poll: Number(root.dataset.poll),
    question_sha256: root.dataset.questionSha256,
    voter: Number(root.dataset.voter),
    certificate_sha256: cert.fingerprint,
    choice,
    nonce: nonce(),
    client_time: new Date().toISOString(),
  });
  const bytes = new TextEncoder().encode(ballot);
  const signature = await signWithDeviceKey(cert.spki_sha256, bytes);
  const receipt = await api_call("POST", "/ballots", { ballot, signature: base64(signature), totp: code });
  const mine = await sha256Hex(bytes);
  if (receipt.ballot_sha256 !== mine) throw new Error(labels.mismatch);
  const kept = JSON.parse(localStorage.getItem(RECEIPTS) || "[]");
  kept.push({ ballot, ballot_sha256: mine, audit_seq: receipt.audit_seq });
  localStorage.setItem(RECEIPTS, JSON.stringify(kept));
  showReceipt(receipt);
  return receipt;
}

function showReceipt(receipt) {
  document.getElementById("receipt-card").hidden = false;
  document.getElementById("receipt-hash").textContent = receipt.ballot_sha256;
  document.getElementById("receipt-seq").textContent = String(receipt.audit_seq ?? "");
  document.getElementById("receipt-card").dataset.status = receipt.status || "";
}

// --- checking the receipt: RFC 6962 inclusion proof up to the checkpoint's root -----------------

async function node(left, right) {
  const joined = new Uint8Array(1 + left.length + right.length);
  joined[0] = 1;
  joined.set(left, 1);
  joined.set(right, 1 + left.length);
  return sha256(joined);
}

export async function checkProof(proof, ballotSha256) {
  const entry = new TextEncoder().encode(proof.entry);
  const leafInput = new Uint8Array(1 + entry.length);
  leafInput.set(entry, 1);
  let hash = await sha256(leafInput);
  const details = JSON.parse(proof.entry).details || {};
  if (details.ballot_sha256 !== ballotSha256) return false;
  let index = proof.leaf_index;
  let last = proof.tree_size - 1;
  for (const hex of proof.audit_path) {
    if (last === 0) return false;
    const sibling = hexToBytes(hex);
    if (index % 2 === 1 || index === last) {
      hash = await node(sibling, hash);
      while (index % 2 === 0 && index !== 0) {
        index >>= 1;
        last >>= 1;
      }
    } else {
      hash = await node(hash, sibling);
    }
    index >>= 1;
    last >>= 1;
  }
  if (last !== 0) return false;
  const [, size, root64] = proof.checkpoint.split("\n");
  return Number(size) === proof.tree_size && base64(hash) === root64;
}

async function checkReceipt() {
  const status = document.getElementById("receipt-status");
  const hash = document.getElementById("receipt-hash").textContent.trim();
  try {
    const receipt = await api_call("GET", `/ballots/${hash}/receipt`);
    showReceipt(receipt);
    if (!receipt.proof) {
      status.dataset.state = "pending";
      status.textContent = labels.pending;
      return;
    }
    const ok = await checkProof(receipt.proof, hash);
    status.dataset.state = ok ? "included" : "mismatch";
    status.textContent = ok ? `${labels.included} (#${receipt.audit_seq} / ${receipt.proof.tree_size})` : labels.mismatch;
  } catch (error) {
    status.dataset.state = "error";
    status.textContent = String(error.message || error);
  }
}

// --- results ------------------------------------------------------------------------------------

function renderResults(data) {
  const box = document.getElementById("results");
  box.dataset.cast = String(data.cast);
  box.replaceChildren();
  const turnout = document.createElement("p");
  turnout.textContent = `${data.cast} / ${data.eligible}`;
  turnout.className = "turnout";
  box.append(turnout);
  if (data.counts) {
    const list = document.createElement("ul");
    for (const option of options) {
      const li = document.createElement("li");
      li.dataset.option = option.key;
      li.dataset.count = String(data.counts[option.key] ?? 0);
      li.textContent = `${option.label}: ${data.counts[option.key] ?? 0}`;
      list.append(li);
    }
    box.append(list);
  }
  if (data.roll_call) {
    const table = document.createElement("ul");
    table.className = "roll-call";
    for (const row of data.roll_call) {
      const li = document.createElement("li");
      const label = options.find((o) => o.key === row.choice)?.label || row.choice;
      li.textContent = `${row.name}: ${label}`;
      table.append(li);
    }
    box.append(table);
  }
}

// The outcome in the reader's language (the server stores and signs its code).
function outcomeLabel(code) {
  return labels[`outcome_${code}`] || code;
}

function showOutcome(tally) {
  const outcome = document.getElementById("outcome");
  outcome.dataset.outcome = tally.outcome;
  outcome.textContent = outcomeLabel(tally.outcome);
  document.getElementById("poll-state").textContent = outcome.dataset.closedLabel;
  root.dataset.state = "closed";
}

async function refreshResults() {
  try {
    renderResults(await api_call("GET", "/results"));
  } catch {
    /* shown again on the next event */
  }
}

// Results arrive on the meeting's WebSocket; where there is none (a written consultation) or it
// is down, the page asks every few seconds instead.
let polling = null;

function startPolling() {
  if (!polling && root.dataset.state === "open") polling = setInterval(refreshResults, 3000);
}

function stopPolling() {
  if (polling) clearInterval(polling);
  polling = null;
}

function listen() {
  if (!root.dataset.wsPath) {
    startPolling();
    return;
  }
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}${root.dataset.wsPath}`);
  socket.onopen = stopPolling;
  socket.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.type !== "event" || !String(event.kind).startsWith("poll.") || event.data?.poll !== Number(root.dataset.poll)) return;
    if (event.kind === "poll.closed") {
      showOutcome(event.data.tally);
      refreshResults();
    } else if (event.kind === "poll.opened") {
      window.location.reload();
    } else {
      refreshResults();
    }
  };
  socket.onclose = () => {
    startPolling();
    setTimeout(listen, 5000);
  };
}

// --- the page -------------------------------------------------------------------------------

async function init() {
  const form = document.getElementById("ballot-form");
  if (form) {
    const select = form.device_key;
    const keys = await usableKeys();
    for (const cert of keys) {
      const option = document.createElement("option");
      option.value = cert.fingerprint;
      option.textContent = `${cert.device_label} (${cert.fingerprint.slice(0, 12)}…)`;
      select.append(option);
    }
    const status = document.getElementById("ballot-status");
    if (!keys.length) {
      status.dataset.state = "no_key";
      status.textContent = labels.no_key;
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = document.getElementById("cast-button");
      button.disabled = true;
      try {
        await cast(form, status);
        status.dataset.state = "accepted";
        status.textContent = labels.sent;
        form.totp.value = "";
        refreshResults();
      } catch (error) {
        status.dataset.state = "error";
        status.textContent = `${labels.error}: ${error.message || error}`;
      } finally {
        button.disabled = false;
      }
    });
  }
  const mine = document.getElementById("receipt-hash").textContent.trim();
  if (mine) {
    const kept = JSON.parse(localStorage.getItem(RECEIPTS) || "[]").find((r) => r.ballot_sha256 === mine);
    if (kept) document.getElementById("receipt-seq").textContent = String(kept.audit_seq);
  }
  document.getElementById("check-receipt")?.addEventListener("click", checkReceipt);
  for (const [id, path] of [["open-poll", "/open"], ["close-poll", "/close"]]) {
    document.getElementById(id)?.addEventListener("click", async () => {
      const status = document.getElementById("chair-status");
      try {
        const poll = await api_call("POST", path);
        status.dataset.state = poll.state;
        if (poll.result) showOutcome(poll.result.tally);
        setTimeout(() => window.location.reload(), 300);
      } catch (error) {
        status.dataset.state = "error";
        status.textContent = String(error.message || error);
      }
    });
  }
  if (root.dataset.canSeeResults === "1" || root.dataset.state !== "draft") refreshResults();
  listen();
}

init();
