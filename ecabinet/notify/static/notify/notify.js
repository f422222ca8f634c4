// Live notifications, the unread badge, meeting chat, and the push service worker.
// Text from the server is always inserted with textContent: a message is never HTML.

const badges = () => document.querySelectorAll("[data-notify-unread]");

function setUnread(n) {
  for (const el of badges()) {
    el.textContent = String(n);
    el.hidden = n === 0 && el.dataset.hideZero !== undefined;
  }
}

async function refreshUnread() {
  try {
    const r = await fetch("/api/v1/notifications/unread-count", { credentials: "same-origin" });
    if (r.ok) setUnread((await r.json()).unread);
  } catch (_) { /* offline: the badge catches up on the next event */ }
}

function addNotification(ev) {
  const list = document.getElementById("notify-list");
  if (!list) return;
  list.querySelector(".empty")?.remove();
  const li = document.createElement("li");
  li.className = `notification unread ${ev.urgency}`;
  li.dataset.id = ev.id;
  const a = document.createElement("a");
  a.href = ev.url;
  const b = document.createElement("strong");
  b.textContent = ev.label;
  a.append(b);
  if (ev.title) a.append(document.createTextNode(": " + ev.title));
  li.append(a);
  list.prepend(li);
}

function addMessage(ev) {
  const log = document.getElementById("chat-log");
  if (!log || String(ev.conversation) !== log.dataset.conversation) return;
  if (log.querySelector(`[data-id="${ev.id}"]`)) return;
  const li = document.createElement("li");
  li.className = "message";
  li.dataset.id = ev.id;
  const who = document.createElement("b");
  who.className = "sender";
  who.textContent = ev.sender_name;
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = ev.text;
  li.append(who, " ", text);
  if (ev.document) {
    const ref = document.createElement("span");
    ref.className = "docref";
    ref.textContent = ev.document.restricted ? (log.dataset.restricted || "restricted reference") : "📄 " + ev.document.title;
    li.append(" ", ref);
  }
  log.append(li);
}

let retry = 1000;
function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws/live/`);
  ws.addEventListener("open", () => { retry = 1000; document.documentElement.dataset.notifyLive = "1"; });
  ws.addEventListener("message", (e) => {
    const ev = JSON.parse(e.data);
    if (ev.type === "notification") { setUnread(ev.unread); addNotification(ev); }
    else if (ev.type === "notification.unread") setUnread(ev.unread);
    else if (ev.type === "message") addMessage(ev);
  });
  ws.addEventListener("close", (e) => {
    delete document.documentElement.dataset.notifyLive;
    if (e.code === 4401) return;
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 30000);
  });
}

function chatForm() {
  const form = document.getElementById("chat-form");
  if (!form) return;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = new FormData(form);
    const r = await fetch(form.action || location.href, { method: "POST", body, credentials: "same-origin" });
    if (r.ok) form.querySelector("textarea").value = "";
  });
}

function b64urlToBytes(s) {
  const pad = "=".repeat((4 - (s.length % 4)) % 4);
  const raw = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

async function enablePush() {
  const state = document.getElementById("push-state");
  try {
    const reg = await navigator.serviceWorker.register("/notify/sw.js", { scope: "/", type: "module" });
    const { public_key } = await (await fetch("/api/v1/notify/push/key")).json();
    const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64urlToBytes(public_key) });
    const csrf = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="))?.split("=")[1] || "";
    const r = await fetch("/api/v1/notify/push/subscriptions", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(sub.toJSON()),
    });
    if (state) state.textContent = r.ok ? "✓" : String(r.status);
  } catch (err) {
    if (state) state.textContent = String(err);
  }
}

if (document.body.dataset.notifyInit === undefined) {
  document.body.dataset.notifyInit = "1";
  refreshUnread();
  connect();
  chatForm();
  document.getElementById("push-enable")?.addEventListener("click", enablePush);
}
