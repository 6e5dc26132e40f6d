// Keeps the app shell: the chat opens without the network. Never the
// WebSocket or the API.
const CACHE = "chat-shell-v1";

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.add("/")));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin
    || url.pathname === "/ws" || url.pathname === "/healthz"
    || url.pathname.startsWith("/api/")) return;
  if (request.mode === "navigate") event.respondWith(shell(request));
  else if (HASHED.test(url.pathname)) event.respondWith(asset(request));
});

// The build's assets: a content hash in their names (`client-<16 hex>.js`,
// the picker's `emoji-<16 hex>.json`).
const HASHED = /-[0-9a-f]{16}(_bg)?\.(js|wasm|css|json)$/;

// Assets have a content hash in their names: kept once fetched.
async function asset(request) {
  const kept = await caches.match(request);
  if (kept) return kept;
  const response = await fetch(request);
  if (response.ok) (await caches.open(CACHE)).put(request, response.clone());
  return response;
}

// Pages are the shell: the network's (dropping assets it no longer
// names), else the one kept. Only an HTML page is kept as the shell:
// once, opening /healthz or an icon in the tab made it the app's start.
async function shell(request) {
  try {
    const response = await fetch(request);
    const html = (response.headers.get("content-type") || "").startsWith("text/html");
    if (response.ok && html) {
      const html = await response.clone().text();
      const cache = await caches.open(CACHE);
      await cache.put("/", response.clone());
      for (const kept of await cache.keys()) {
        const path = new URL(kept.url).pathname;
        if (path !== "/" && !html.includes(path.slice(1))) await cache.delete(kept);
      }
    }
    return response;
  } catch {
    return (await caches.match("/")) || Response.error();
  }
}
