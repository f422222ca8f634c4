// The live session page: renders the snapshot, keeps it current from ws/meetings/<id>/, and sends
// the buttons' actions to the JSON API. Each event carries the whole state of the piece it is about,
// so applying one is a replacement; after a reconnect the server sends a fresh snapshot.

const root = document.getElementById("live");
const labels = JSON.parse(document.getElementById("live-labels").textContent);
let state = JSON.parse(document.getElementById("live-snapshot").textContent);
let clockOffset = 0; // server time minus local time, in ms
let socket = null;
let retryDelay = 1000;
let gone = false;

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function serverNow() {
  return Date.now() + clockOffset;
}

function clock(seconds) {
  const sign = seconds < 0 ? "-" : "";
  const s = Math.abs(Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${sign}${h}:${String(m).padStart(2, "0")}:${rest}` : `${sign}${m}:${rest}`;
}

function fill(template, values) {
  return template.replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function act(path, body = null) {
  const error = $("action-error");
  error.hidden = true;
  const response = await fetch(root.dataset.api + path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json" },
    body: body === null ? null : JSON.stringify(body),
  });
  if (!response.ok) {
    let detail = `${labels.error} (${response.status})`;
    try {
      const problem = await response.json();
      detail = problem.detail || problem.title || detail;
    } catch (_) {
      /* not JSON: keep the status line */
    }
    error.textContent = detail;
    error.hidden = false;
  }
  // The change itself arrives over the WebSocket, like everyone else's.
}

// --- rendering ------------------------------------------------------------------------------

// The most recently started running item: between "item.started" and the previous item's
// "item.ended" (sent right after) two items may briefly both say running.
function runningItem() {
  const running = state.items.filter((item) => item.running);
  running.sort((a, b) => Date.parse(b.started_at) - Date.parse(a.started_at));
  return running[0] || null;
}

function renderMeeting() {
  const node = $("meeting-state");
  const key = `state_${state.meeting.state}`;
  node.dataset.state = state.meeting.state;
  node.textContent = labels[key] || labels.state_other;
}

function renderAgenda() {
  const list = $("agenda");
  const runs = state.you.can_run_session && state.meeting.state === "in_session";
  list.replaceChildren(
    ...state.items.map((item) => {
      const planned = `${item.planned_minutes} min ${labels.planned}`;
      const li = el(
        "li",
        { "data-item": item.id, class: [item.running ? "running" : "", item.ended_at ? "ended" : "", item.overrun ? "overrun" : ""].join(" ").trim(), "aria-current": item.running ? "true" : null },
        el("span", { class: "title" }, item.title),
        el("span", { class: "muted times" }, item.actual_seconds !== null && !item.running ? `${clock(item.actual_seconds)} / ${planned}` : planned),
      );
      if (runs && !item.started_at && item.outcome !== "consent") {
        li.append(el("button", { type: "button", class: "start-item", "data-item": item.id, onclick: () => act(`/items/${item.id}/start`) }, labels.start));
      }
      return li;
    }),
  );
}

function renderRunning() {
  const item = runningItem();
  $("running").replaceChildren(item ? el("strong", {}, item.title) : el("span", { class: "muted" }, labels.no_item));
  $("timer-planned").textContent = item ? clock(item.planned_minutes * 60) : "--:--";
  const endButton = $("end-item");
  endButton.hidden = !(item && state.you.can_run_session);
  endButton.onclick = item ? () => act(`/items/${item.id}/end`) : null;
  tick();
}

function renderSpeakers() {
  const item = runningItem();
  const list = $("speakers");
  const rows = item ? state.speakers[String(item.id)] || [] : [];
  const open = rows.filter((row) => row.state === "waiting" || row.state === "speaking");
  const someoneSpeaking = rows.some((row) => row.state === "speaking");
  const runs = state.you.can_run_session;
  list.replaceChildren(
    ...(rows.length === 0 ? [el("li", { class: "muted" }, labels.no_speakers)] : []),
    ...rows.map((row) => {
      const li = el("li", { "data-speaker": row.id, class: row.state }, el("span", {}, row.user.name), " ", el("span", { class: "muted" }, labels[row.state] || row.state));
      if (runs && row.state === "waiting" && !someoneSpeaking) {
        li.append(" ", el("button", { type: "button", class: "grant", onclick: () => act(`/items/${item.id}/speakers/${row.id}/grant`) }, labels.grant));
      }
      if (runs && row.state === "speaking") {
        li.append(" ", el("button", { type: "button", class: "end-floor", onclick: () => act(`/items/${item.id}/speakers/${row.id}/end`) }, labels.end_floor));
      }
      return li;
    }),
  );
  const mine = open.find((row) => row.user.id === state.you.id);
  const mayRequest = item && state.you.may_request_floor.includes(item.id);
  $("request-floor").hidden = !(mayRequest && !mine);
  $("request-floor").onclick = item ? () => act(`/items/${item.id}/speakers`) : null;
  $("withdraw-floor").hidden = !mine;
  $("withdraw-floor").onclick = item ? () => act(`/items/${item.id}/speakers/withdraw`) : null;
  tick();
}

function renderAttendance() {
  const list = $("attendance");
  const quorum = $("quorum");
  if (!state.attendance) {
    list.replaceChildren();
    quorum.textContent = "";
  } else {
    const { present, quorum: q } = state.attendance;
    quorum.className = `quorum ${q.reached ? "reached" : "missing"}`;
    quorum.textContent = `${q.reached ? labels.quorum_reached : labels.quorum_missing} · ${fill(labels.present_of, { present: q.present, voting: q.voting_members, required: q.required })}`;
    list.replaceChildren(
      ...(present.length === 0 ? [el("li", { class: "muted" }, labels.nobody)] : []),
      ...present.map((row) =>
        el(
          "li",
          { "data-user": row.user.id, class: row.mode },
          row.user.name,
          " ",
          el("span", { class: "muted" }, row.substitute_for ? `${labels.substitute} ${labels.for} ${row.substitute_for.name}` : labels[row.mode]),
        ),
      ),
    );
  }
  const checkedIn = state.attendance ? state.attendance.present.some((row) => row.user.id === state.you.id) : Boolean(state.you.checked_in);
  const canAttend = state.you.can_attend && ["scheduled", "dossier_published", "in_session", "adjourned"].includes(state.meeting.state);
  $("check-in").hidden = !(canAttend && !checkedIn);
  $("check-in-remote").hidden = !(canAttend && !checkedIn);
  $("check-out").hidden = !checkedIn;
}

function renderAll() {
  clockOffset = Date.parse(state.now) - Date.now();
  renderMeeting();
  renderAgenda();
  renderRunning();
  renderSpeakers();
  renderAttendance();
}

// The timers run here, from started_at / granted_at and the server's clock.
function tick() {
  const item = runningItem();
  const actual = $("timer-actual");
  const over = $("timer-over");
  if (!item) {
    actual.textContent = "--:--";
    actual.classList.remove("overrun");
    over.hidden = true;
  } else {
    const elapsed = (serverNow() - Date.parse(item.started_at)) / 1000;
    const isOver = elapsed > item.planned_minutes * 60;
    actual.textContent = clock(elapsed);
    actual.classList.toggle("overrun", isOver);
    over.hidden = !isOver;
  }
  const speaking = item ? (state.speakers[String(item.id)] || []).find((row) => row.state === "speaking") : null;
  const countdown = $("countdown");
  countdown.hidden = !speaking;
  if (speaking) {
    const left = speaking.time_limit_seconds - (serverNow() - Date.parse(speaking.granted_at)) / 1000;
    $("speaker-now").textContent = speaking.user.name;
    $("speaker-left").textContent = clock(left);
    countdown.classList.toggle("overrun", left < 0);
  }
}

// --- live events ----------------------------------------------------------------------------

function replaceItem(item) {
  const index = state.items.findIndex((known) => known.id === item.id);
  if (index === -1) return false;
  state.items[index] = item;
  return true;
}

function apply(message) {
  if (message.type === "snapshot") {
    state = message;
    renderAll();
    return;
  }
  if (message.type !== "event") return;
  const data = message.data || {};
  switch (message.kind) {
    case "item.started":
    case "item.ended":
      if (!replaceItem(data.item)) return requestSnapshot();
      renderAgenda();
      renderRunning();
      renderSpeakers();
      return;
    case "speakers":
      state.speakers[String(data.item)] = data.speakers;
      renderSpeakers();
      return;
    case "attendance":
      state.attendance = data;
      renderAttendance();
      return;
    case "positions.changed":
      return; // positions are not shown on this page
    default:
      // Agenda or meeting-state changes, and anything this page does not know: take a fresh snapshot.
      requestSnapshot();
  }
}

function requestSnapshot() {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "snapshot" }));
}

function setConnection(text, live) {
  const node = $("connection");
  node.textContent = text;
  node.classList.toggle("live", live);
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(`${scheme}//${location.host}${root.dataset.wsPath}`);
  socket.addEventListener("open", () => {
    retryDelay = 1000;
    setConnection(labels.connected, true);
  });
  // The first message on every (re)connection is a full snapshot.
  socket.addEventListener("message", (event) => apply(JSON.parse(event.data)));
  socket.addEventListener("close", (event) => {
    if (event.code === 4404) {
      gone = true;
      setConnection(labels.gone, false);
      return;
    }
    if (event.code === 4401) {
      location.reload();
      return;
    }
    setConnection(labels.reconnecting, false);
    if (!gone) setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 15000);
  });
}

$("check-in").addEventListener("click", () => act("/attendance/check-in", { mode: "in_room" }));
$("check-in-remote").addEventListener("click", () => act("/attendance/check-in", { mode: "remote" }));
$("check-out").addEventListener("click", () => act("/attendance/check-out", {}));

renderAll();
setInterval(tick, 500);
connect();
