// Service worker for Web Push. The payload is the short, non-confidential notice the server
// encrypted for this browser (RFC 8291); the page behind the link checks access again.
self.addEventListener("push", (event) => {
  let data = { title: "e-Cabinet", body: "", url: "/notify/" };
  try { data = { ...data, ...event.data.json() }; } catch (_) { /* keep the generic notice */ }
  event.waitUntil(self.registration.showNotification(data.title, { body: data.body, tag: data.tag, data: { url: data.url } }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = event.notification.data?.url || "/notify/";
  event.waitUntil(self.clients.openWindow(url));
});
