// The tablet reader: PDF.js fed by HTTP range requests (only the bytes a page needs), server
// thumbnails, a watermark drawn over every page, in-document search through the server index,
// annotations kept on the server, and throttled reports of the pages shown.
import * as pdfjsLib from "./pdfjs/pdf.min.mjs";

const root = document.getElementById("reader");
const info = JSON.parse(document.getElementById("reader-data").textContent);
const ticket = root.dataset.ticket;
const staticBase = root.dataset.static;
pdfjsLib.GlobalWorkerOptions.workerSrc = `${staticBase}pdfjs/pdf.worker.min.mjs`;

// Small ranges: page 1 of a 300-page dossier then needs ~35 kB instead of ~150 kB (bench/ingest.py).
const CHUNK = 16384;
const PROGRESS_EVERY_MS = 5000;
const api = `/api/v1/reader`;
const $ = (id) => document.getElementById(id);
const stage = $("stage");
const pageBox = $("page");
const canvas = $("pdf-canvas");
const textLayerBox = $("text-layer");
const marksBox = $("marks");
const watermarkCanvas = $("watermark");
const statusLine = $("status");

let pdf = null;
let current = 1;
let scale = 1;
let renderTask = null;
let annotations = [];
let pageText = { page: 0, items: [] };
let placingNote = false;
const seen = new Set();
let unsent = false;
const bytes = { fetched: 0, requests: 0 };
root.dataset.bytesFetched = "0";

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function call(method, path, body) {
  const response = await fetch(path, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok && response.status !== 204) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON */ }
    throw new Error(detail);
  }
  return response.status === 204 ? null : response.json();
}

function say(text) { statusLine.textContent = text; }

// --- bytes: HTTP ranges only, never the whole file -------------------------------------------

async function fetchRange(begin, end) {
  // end is exclusive for PDF.js, inclusive for HTTP.
  const response = await fetch(info.content_url, {
    credentials: "same-origin",
    headers: { Range: `bytes=${begin}-${end - 1}`, "X-Reader-Ticket": ticket },
  });
  if (response.status !== 206 && response.status !== 200) throw new Error(`HTTP ${response.status}`);
  const data = new Uint8Array(await response.arrayBuffer());
  bytes.fetched += data.byteLength;
  bytes.requests += 1;
  root.dataset.bytesFetched = String(bytes.fetched);
  root.dataset.rangeRequests = String(bytes.requests);
  const total = Number((response.headers.get("Content-Range") || "").split("/")[1] || data.byteLength);
  return { data: response.status === 200 ? data.subarray(begin, end) : data, total };
}

async function openPdf() {
  const first = await fetchRange(0, Math.min(CHUNK, info.size));
  const transport = new pdfjsLib.PDFDataRangeTransport(first.total, first.data);
  transport.requestDataRange = (begin, end) => {
    fetchRange(begin, end).then(({ data }) => transport.onDataRange(begin, data)).catch((e) => say(e.message));
  };
  return pdfjsLib.getDocument({
    range: transport,
    length: first.total,
    rangeChunkSize: CHUNK,
    disableAutoFetch: true,
    disableStream: true,
    isEvalSupported: false,
    enableXfa: false,
  }).promise;
}

// --- drawing a page ---------------------------------------------------------------------------

function fitScale(page) {
  const width = Math.max(stage.clientWidth - 32, 280);
  return width / page.getViewport({ scale: 1 }).width;
}

async function showPage(number) {
  if (!pdf) return;
  number = Math.min(Math.max(1, number), pdf.numPages);
  current = number;
  $("page-number").value = String(number);
  root.dataset.rendered = "";
  const page = await pdf.getPage(number);
  scale = fitScale(page);
  const viewport = page.getViewport({ scale });
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.floor(viewport.width * ratio);
  canvas.height = Math.floor(viewport.height * ratio);
  canvas.style.width = `${Math.floor(viewport.width)}px`;
  canvas.style.height = `${Math.floor(viewport.height)}px`;
  pageBox.style.width = canvas.style.width;
  pageBox.style.height = canvas.style.height;
  pageBox.style.setProperty("--scale-factor", String(scale));
  if (renderTask) renderTask.cancel();
  renderTask = page.render({ canvasContext: canvas.getContext("2d"), viewport, transform: ratio !== 1 ? [ratio, 0, 0, ratio, 0, 0] : null });
  try {
    await renderTask.promise;
  } catch (e) {
    if (e && e.name === "RenderingCancelledException") return;
    throw e;
  }
  drawWatermark(viewport.width, viewport.height);
  textLayerBox.replaceChildren();
  const content = await page.getTextContent();
  pageText = { page: number, items: content.items };
  const layer = new pdfjsLib.TextLayer({ textContentSource: content, container: textLayerBox, viewport });
  await layer.render();
  drawAnnotations();
  root.dataset.rendered = String(number);
  root.dataset.bytesAtRender ||= String(bytes.fetched);
  markThumb(number);
  seen.add(number);
  unsent = true;
  say(`${number} / ${pdf.numPages}`);
}

// --- watermark: name, time, device, over the whole page ----------------------------------------

function watermarkText() {
  const w = info.watermark;
  return w ? `${w.name} · ${w.username} · ${w.time} · ${w.device}` : "";
}

function drawWatermark(width, height) {
  const text = watermarkText();
  const ratio = window.devicePixelRatio || 1;
  watermarkCanvas.width = Math.floor(width * ratio);
  watermarkCanvas.height = Math.floor(height * ratio);
  watermarkCanvas.style.width = `${Math.floor(width)}px`;
  watermarkCanvas.style.height = `${Math.floor(height)}px`;
  const ctx = watermarkCanvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  watermarkCanvas.dataset.text = text;
  if (!text) return;
  ctx.save();
  ctx.fillStyle = "rgba(160, 20, 20, 0.16)";
  ctx.font = `${Math.max(12, Math.round(width / 38))}px sans-serif`;
  ctx.translate(width / 2, height / 2);
  ctx.rotate(-Math.PI / 6);
  const step = Math.max(90, Math.round(height / 7));
  for (let y = -height; y <= height; y += step) {
    for (let x = -width; x <= width; x += ctx.measureText(text).width + 60) {
      ctx.fillText(text, x, y);
    }
  }
  ctx.restore();
}

// --- thumbnails and navigation ---------------------------------------------------------------

function buildThumbs() {
  const list = $("thumbs");
  list.replaceChildren();
  for (let n = 1; n <= pdf.numPages; n += 1) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.page = String(n);
    button.setAttribute("aria-label", `${n}`);
    if (info.thumbnails) {
      const img = document.createElement("img");
      img.loading = "lazy";
      img.alt = "";
      img.src = `${api}/versions/${info.version_id}/thumbnails/${n}`;
      button.append(img);
    }
    const label = document.createElement("span");
    label.className = "num";
    label.textContent = String(n);
    button.append(label);
    button.addEventListener("click", () => showPage(n));
    list.append(button);
  }
}

function markThumb(n) {
  for (const b of $("thumbs").querySelectorAll("button")) {
    if (b.dataset.page === String(n)) { b.setAttribute("aria-current", "page"); b.scrollIntoView({ block: "nearest" }); }
    else b.removeAttribute("aria-current");
  }
}

// --- search inside the document (server index, accents optional) ----------------------------

async function searchInside(event) {
  event.preventDefault();
  const q = $("find-q").value.trim();
  const out = $("find-results");
  out.replaceChildren();
  if (!q) return;
  const results = await call("GET", `${api}/versions/${info.version_id}/search?q=${encodeURIComponent(q)}`);
  if (!results.length) { out.textContent = out.dataset.none; return; }
  for (const r of results) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = "#";
    a.dataset.page = String(r.page);
    a.addEventListener("click", (e) => { e.preventDefault(); showPage(r.page); });
    let last = 0;
    a.append(`${r.page}: `);
    for (const [s, e] of r.highlights) {
      a.append(r.snippet.slice(last, s));
      const m = document.createElement("mark");
      m.textContent = r.snippet.slice(s, e);
      a.append(m);
      last = e;
    }
    a.append(r.snippet.slice(last));
    li.append(a);
    out.append(li);
  }
}

// --- annotations ------------------------------------------------------------------------------

async function loadAnnotations() {
  annotations = await call("GET", `${api}/documents/${info.document_id}/annotations`);
  listAnnotations();
}

function listAnnotations() {
  const list = $("annotation-list");
  list.replaceChildren();
  for (const a of annotations) {
    const li = document.createElement("li");
    li.dataset.id = String(a.id);
    if (a.orphaned) li.className = "orphaned";
    const head = document.createElement("a");
    head.href = "#";
    head.textContent = `${a.page}${a.orphaned ? " ⚠" : ""} · ${a.mine ? "" : a.author + " · "}${a.kind === "note" ? "✎" : "▮"}`;
    head.addEventListener("click", (e) => { e.preventDefault(); if (a.version_id === info.version_id) showPage(a.page); });
    li.append(head);
    if (a.quote) { const q = document.createElement("q"); q.textContent = a.quote.slice(0, 140); li.append(" ", q); }
    if (a.note) { const p = document.createElement("p"); p.textContent = a.note; li.append(p); }
    if (a.orphaned) { const p = document.createElement("p"); p.textContent = list.dataset.orphaned; li.append(p); }
    if (a.mine) {
      const del = document.createElement("button");
      del.type = "button";
      del.className = "link";
      del.textContent = list.dataset.delete;
      del.addEventListener("click", async () => { await call("DELETE", `${api}/annotations/${a.id}`); await loadAnnotations(); drawAnnotations(); });
      li.append(del);
    }
    list.append(li);
  }
}

function drawAnnotations() {
  marksBox.replaceChildren();
  for (const span of textLayerBox.querySelectorAll(".carried")) span.classList.remove("carried");
  const width = pageBox.clientWidth;
  const height = pageBox.clientHeight;
  for (const a of annotations) {
    if (a.page !== current || a.version_id !== info.version_id || a.orphaned) continue;
    if (a.rects.length) {
      for (const [x, y, w, h] of a.rects) {
        const div = document.createElement("div");
        div.className = `mark ${a.color}${a.kind === "note" && w === 0 ? " note" : ""}`;
        div.style.left = `${x * width}px`;
        div.style.top = `${y * height}px`;
        if (!(a.kind === "note" && w === 0)) { div.style.width = `${w * width}px`; div.style.height = `${h * height}px`; }
        div.title = a.note || a.quote;
        div.dataset.annotation = String(a.id);
        marksBox.append(div);
      }
    } else if (a.quote) {
      markQuote(a.quote);
    }
  }
}

// Carried to a new version: the rectangles are gone, find the words in the text layer again.
function markQuote(quote) {
  // One string of the page's text with whitespace runs collapsed, and for each of its characters
  // the span it came from.
  let flat = "";
  const owners = [];
  for (const span of textLayerBox.querySelectorAll("span:not(.markedContent)")) {
    for (const ch of `${span.textContent} `) {
      const space = /\s/.test(ch);
      if (space && flat.endsWith(" ")) continue;
      flat += space ? " " : ch;
      owners.push(span);
    }
  }
  const needle = quote.replace(/\s+/g, " ").trim();
  const at = flat.indexOf(needle);
  if (at < 0) return;
  for (let i = at; i < at + needle.length; i += 1) owners[i].classList.add("carried");
}

function selectionAnchor() {
  const selection = window.getSelection();
  if (!selection || selection.isCollapsed || !textLayerBox.contains(selection.anchorNode)) return null;
  const quote = selection.toString().trim();
  if (!quote) return null;
  const box = pageBox.getBoundingClientRect();
  const rects = [...selection.getRangeAt(0).getClientRects()]
    .filter((r) => r.width > 1 && r.height > 1)
    .slice(0, 200)
    .map((r) => [
      clamp((r.left - box.left) / box.width), clamp((r.top - box.top) / box.height),
      clamp(r.width / box.width), clamp(r.height / box.height),
    ]);
  const full = pageText.items.map((i) => i.str).join(" ").replace(/\s+/g, " ");
  const at = full.indexOf(quote.replace(/\s+/g, " "));
  const prefix = at > 0 ? full.slice(Math.max(0, at - 32), at) : "";
  const suffix = at >= 0 ? full.slice(at + quote.length, at + quote.length + 32) : "";
  return { quote, rects, prefix, suffix };
}

const clamp = (v) => Math.round(Math.min(1, Math.max(0, v)) * 100000) / 100000;

async function saveAnnotation(body) {
  try {
    await call("POST", `${api}/versions/${info.version_id}/annotations`, body);
    $("note-text").value = "";
    await loadAnnotations();
    drawAnnotations();
    say($("annotation-list").dataset.saved);
  } catch (e) {
    say(e.message);
  }
}

async function highlightSelection() {
  const anchor = selectionAnchor();
  if (!anchor) { say($("annotation-list").dataset.selectFirst); return; }
  const note = $("note-text").value.trim();
  await saveAnnotation({
    page: current, kind: note ? "note" : "highlight", ...anchor, note,
    color: $("note-color").value, shared: $("note-shared").checked,
  });
  window.getSelection().removeAllRanges();
}

function startPlacingNote() {
  if (!$("note-text").value.trim()) { $("note-text").focus(); say($("annotation-list").dataset.writeFirst); return; }
  placingNote = true;
  pageBox.classList.add("placing");
  say($("annotation-list").dataset.tapPage);
}

pageBox.addEventListener("click", async (event) => {
  if (!placingNote) return;
  placingNote = false;
  pageBox.classList.remove("placing");
  const box = pageBox.getBoundingClientRect();
  await saveAnnotation({
    page: current, kind: "note",
    rects: [[clamp((event.clientX - box.left) / box.width), clamp((event.clientY - box.top) / box.height), 0, 0]],
    note: $("note-text").value.trim(), color: $("note-color").value, shared: $("note-shared").checked,
  });
});

// --- reading progress (throttled) --------------------------------------------------------------

async function sendProgress() {
  if (!unsent || !seen.size) return;
  unsent = false;
  try {
    await call("POST", `${api}/versions/${info.version_id}/progress`, { pages: [...seen].slice(-500) });
  } catch (e) {
    unsent = true;
  }
}

// --- wiring ------------------------------------------------------------------------------------

$("prev").addEventListener("click", () => showPage(current - 1));
$("next").addEventListener("click", () => showPage(current + 1));
$("page-number").addEventListener("change", (e) => showPage(Number(e.target.value) || 1));
$("find").addEventListener("submit", searchInside);
$("highlight").addEventListener("click", highlightSelection);
$("place-note").addEventListener("click", startPlacingNote);
document.addEventListener("keydown", (e) => {
  if (e.target.closest("input, textarea")) return;
  if (e.key === "ArrowRight" || e.key === "PageDown") showPage(current + 1);
  if (e.key === "ArrowLeft" || e.key === "PageUp") showPage(current - 1);
});
let resizeTimer = null;
window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => showPage(current), 200); });
setInterval(sendProgress, PROGRESS_EVERY_MS);
document.addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") sendProgress(); });

(async () => {
  try {
    say(root.dataset.loading);
    pdf = await openPdf();
    buildThumbs();
    await loadAnnotations();
    await showPage(1);
  } catch (e) {
    say(`${root.dataset.failed} ${e.message}`);
    root.dataset.error = e.message;
  }
})();
