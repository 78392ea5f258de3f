// The field app's service worker: the app's own files are cached at install (one cache per release, named by a
// digest of the files that the server writes in below) and served from the cache, so the app starts without
// signal. config.json is read from the network first. API calls are not touched: the app keeps its own copies
// of what it read (IndexedDB) and its outbox.

const VERSION = '__FIELD_VERSION__';
const CACHE = `field-${VERSION}`;
const SHELL = [
  '/field/',
  '/field/app.js',
  '/field/api.js',
  '/field/crew.js',
  '/field/data.js',
  '/field/db.js',
  '/field/dom.js',
  '/field/exif.js',
  '/field/grid.js',
  '/field/labels.js',
  '/field/outbox.js',
  '/field/outboxview.js',
  '/field/photos.js',
  '/field/places.js',
  '/field/field.css',
  '/field/manifest.webmanifest',
  '/field/icon-192.png',
  '/field/config.json',
];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { cache: 'no-cache' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('field-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin || !url.pathname.startsWith('/field/')) return;
  if (url.pathname === '/field/config.json') {
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok) {
            const copy = response.clone();
            caches.open(CACHE).then((cache) => cache.put(request, copy));
          }
          return response;
        })
        .catch(() => caches.match(request)),
    );
    return;
  }
  const key = request.mode === 'navigate' ? '/field/' : request;
  event.respondWith(caches.match(key, { ignoreSearch: true }).then((hit) => hit || fetch(request)));
});
