// Member key enrolment on the tablet: the key pair is made by WebCrypto (ECDSA P-256), the private
// key is NOT extractable and stays in this browser's IndexedDB; only a PKCS#10 CSR (public key +
// proof of possession) goes to the server. WebCrypto cannot write a CSR, so the few DER structures
// a CSR needs are encoded here (RFC 2986).
//
// Other pages (ballots) import signWithDeviceKey() to sign with the stored key.

const DB_NAME = "ecabinet-keys";
const STORE = "keys";
const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" };
const SIGNATURE = { name: "ECDSA", hash: "SHA-256" };

// --- DER --------------------------------------------------------------------------------------

function concat(...parts) {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function derLength(length) {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes = [];
  for (let n = length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

function tlv(tag, ...content) {
  const body = concat(...content);
  return concat(Uint8Array.of(tag), derLength(body.length), body);
}

const sequence = (...c) => tlv(0x30, ...c);
const set = (...c) => tlv(0x31, ...c);

// A DER INTEGER from unsigned big-endian bytes: no superfluous leading zeros, and a zero byte in
// front when the high bit is set (otherwise it would read as negative).
function unsignedInteger(bytes) {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i += 1;
  let v = bytes.slice(i);
  if (v[0] & 0x80) v = concat(Uint8Array.of(0), v);
  return tlv(0x02, v);
}

// Pre-encoded object identifiers (tag, length, value).
const OID_COMMON_NAME = Uint8Array.of(0x06, 0x03, 0x55, 0x04, 0x03); // 2.5.4.3
const OID_ECDSA_SHA256 = Uint8Array.of(0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02); // 1.2.840.10045.4.3.2

function utf8String(text) {
  return tlv(0x0c, new TextEncoder().encode(text));
}

// WebCrypto returns r||s (32 bytes each for P-256); X.509 wants SEQUENCE { INTEGER r, INTEGER s }.
export function rawSignatureToDer(raw) {
  const bytes = new Uint8Array(raw);
  const half = bytes.length / 2;
  return sequence(unsignedInteger(bytes.slice(0, half)), unsignedInteger(bytes.slice(half)));
}

export async function buildCsr(keyPair, label) {
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keyPair.publicKey));
  const subject = sequence(set(sequence(OID_COMMON_NAME, utf8String(label.slice(0, 64) || "e-Cabinet"))));
  const info = sequence(
    Uint8Array.of(0x02, 0x01, 0x00), // version 0
    subject,
    spki,
    Uint8Array.of(0xa0, 0x00), // attributes [0] IMPLICIT SET OF, empty
  );
  const raw = await crypto.subtle.sign(SIGNATURE, keyPair.privateKey, info);
  const signature = rawSignatureToDer(raw);
  const der = sequence(info, sequence(OID_ECDSA_SHA256), tlv(0x03, Uint8Array.of(0x00), signature));
  return { der, spki };
}

function base64(bytes) {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

export function toPem(der, label = "CERTIFICATE REQUEST") {
  const lines = base64(der).match(/.{1,64}/g).join("\n");
  return `-----BEGIN ${label}-----\n${lines}\n-----END ${label}-----\n`;
}

export async function sha256Hex(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

// --- IndexedDB --------------------------------------------------------------------------------

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "spki_sha256" });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function withStore(mode, action) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const result = action(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(result.result ?? result);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

export const storeKey = (record) => withStore("readwrite", (s) => s.put(record));
export const loadKey = (spkiSha256) => withStore("readonly", (s) => s.get(spkiSha256));
export const listKeys = () => withStore("readonly", (s) => s.getAll());

// Sign bytes with the device key whose public key hashes to spkiSha256; returns DER ECDSA bytes.
export async function signWithDeviceKey(spkiSha256, bytes) {
  const record = await loadKey(spkiSha256);
  if (!record) throw new Error("no signing key for this certificate on this device");
  return rawSignatureToDer(await crypto.subtle.sign(SIGNATURE, record.privateKey, bytes));
}

// --- the page ---------------------------------------------------------------------------------

async function enrol(section, label, status) {
  // Non-extractable: the browser will never export the private key, not even to this script.
  const keyPair = await crypto.subtle.generateKey(ALGORITHM, false, ["sign", "verify"]);
  const { der, spki } = await buildCsr(keyPair, label);
  const spkiSha256 = await sha256Hex(spki);
  const response = await fetch(section.dataset.api, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": section.dataset.csrf },
    body: JSON.stringify({ csr: toPem(der), device_label: label, source: "browser" }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail || body.title || `HTTP ${response.status}`);
  await storeKey({ spki_sha256: spkiSha256, privateKey: keyPair.privateKey, publicKey: keyPair.publicKey, device_label: label, request_id: body.id, created_at: new Date().toISOString() });
  status.dataset.requestId = String(body.id);
  status.dataset.spki = spkiSha256;
  return body;
}

async function markThisDevice() {
  let keys = [];
  try {
    keys = await listKeys();
  } catch {
    return;
  }
  const mine = new Set(keys.map((k) => k.spki_sha256));
  for (const row of document.querySelectorAll("[data-spki]")) {
    if (mine.has(row.dataset.spki)) {
      row.classList.add("this-device");
      row.querySelector(".this-device")?.removeAttribute("hidden");
    }
  }
}

function init() {
  const section = document.getElementById("enrol");
  markThisDevice();
  if (!section) return;
  const form = document.getElementById("enrol-form");
  const status = document.getElementById("enrol-status");
  if (!window.crypto?.subtle || !window.indexedDB) {
    form.hidden = true;
    document.getElementById("webcrypto-missing").hidden = false;
    return;
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = document.getElementById("enrol-button");
    button.disabled = true;
    status.dataset.state = "working";
    status.textContent = "…";
    try {
      const body = await enrol(section, form.device_label.value.trim(), status);
      status.dataset.state = body.state;
      status.textContent = `${body.state}: ${body.spki_sha256}`;
      setTimeout(() => window.location.reload(), 800);
    } catch (error) {
      status.dataset.state = "error";
      status.textContent = String(error.message || error);
      button.disabled = false;
    }
  });
}

init();
