// Drag-to-reorder for the agenda, with native HTML5 drag and drop and arrow buttons for touch and
// keyboards. The new order is sent with the meeting version read with the page; a stale version
// (someone else changed the agenda) reloads the page rather than overwrite their change.

const list = document.getElementById("agenda");
const errorBox = document.getElementById("reorder-error");

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = false;
}

async function save() {
  const ids = [...list.querySelectorAll("[data-item]")].map((li) => Number(li.dataset.item));
  const response = await fetch(list.dataset.reorderUrl, {
    method: "PUT",
    credentials: "same-origin",
    headers: {
      "Content-Type": "application/json",
      "X-CSRFToken": csrfToken(),
      "If-Match": `W/"${list.dataset.version}"`,
    },
    body: JSON.stringify({ item_ids: ids }),
  });
  if (response.ok) {
    const etag = response.headers.get("ETag") || "";
    const version = etag.match(/"(\d+)"/);
    if (version) list.dataset.version = version[1];
    errorBox.hidden = true;
    return;
  }
  let problem = {};
  try {
    problem = await response.json();
  } catch {
    problem = { detail: response.statusText };
  }
  showError(problem.detail || problem.title || String(response.status));
  if (problem.code === "stale_version") setTimeout(() => window.location.reload(), 1500);
}

let dragged = null;

list.addEventListener("dragstart", (event) => {
  dragged = event.target.closest("[data-item]");
  if (!dragged) return;
  dragged.classList.add("dragging");
  event.dataTransfer.effectAllowed = "move";
  event.dataTransfer.setData("text/plain", dragged.dataset.item);
});

list.addEventListener("dragover", (event) => {
  if (!dragged) return;
  event.preventDefault();
  const over = event.target.closest("[data-item]");
  if (!over || over === dragged) return;
  const box = over.getBoundingClientRect();
  const after = event.clientY > box.top + box.height / 2;
  over.parentNode.insertBefore(dragged, after ? over.nextSibling : over);
});

list.addEventListener("drop", (event) => event.preventDefault());

list.addEventListener("dragend", () => {
  if (!dragged) return;
  dragged.classList.remove("dragging");
  dragged = null;
  save();
});

list.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-move]");
  if (!button) return;
  const li = button.closest("[data-item]");
  if (button.dataset.move === "up" && li.previousElementSibling) {
    li.parentNode.insertBefore(li, li.previousElementSibling);
  } else if (button.dataset.move === "down" && li.nextElementSibling) {
    li.parentNode.insertBefore(li.nextElementSibling, li);
  } else {
    return;
  }
  button.focus();
  save();
});
