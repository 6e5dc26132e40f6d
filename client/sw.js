// The service worker: keeps the app shell so that the chat opens without
// the network (what the browser keeps, the outbox and the joined rooms,
// shows at once; it connects when the network is back). The WebSocket and
// the API are never cached.
const CACHE = "chat-shell-v1";

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.add("/")));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  const ours = url.origin === self.location.origin;
  if (request.method !== "GET" || !ours || url.pathname === "/ws" || url.pathname.startsWith("/api/")) {
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(shell(request));
    return;
  }
  // Assets carry a content hash in their names and never change: from the
  // cache when kept, else from the network, then kept.
  event.respondWith(
    caches.match(request).then((kept) => kept || fetch(request).then((response) => {
      if (response.ok) {
        const copy = response.clone();
        caches.open(CACHE).then((cache) => cache.put(request, copy));
      }
      return response;
    })),
  );
});

// Every page is the shell (the client routes): from the network when it
// answers (it names the current assets; the ones it no longer names are
// dropped), else the one kept.
async function shell(request) {
  try {
    const response = await fetch(request);
    if (response.ok) {
      const html = await response.clone().text();
      const cache = await caches.open(CACHE);
      await cache.put("/", response.clone());
      for (const kept of await cache.keys()) {
        const path = new URL(kept.url).pathname;
        if (path !== "/" && !html.includes(path.slice(1))) {
          await cache.delete(kept);
        }
      }
    }
    return response;
  } catch (offline) {
    const kept = await caches.match("/");
    return kept || Response.error();
  }
}
