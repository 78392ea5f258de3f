// The phone's own storage (IndexedDB): the outbox of queued actions (with their photos as Blobs) and the cached
// answers that let the app be read offline. Survives closing the browser.

const NAME = 'heating-field';
const VERSION = 1;
let opening = null;

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const req = indexedDB.open(NAME, VERSION);
      req.onupgradeneeded = () => {
        const db = req.result;
        if (!db.objectStoreNames.contains('outbox')) db.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true });
        if (!db.objectStoreNames.contains('cache')) db.createObjectStore('cache', { keyPath: 'id' });
      };
      req.onsuccess = () => {
        const db = req.result;
        db.onversionchange = () => {
          db.close();
          opening = null;
        };
        resolve(db);
      };
      req.onerror = () => reject(req.error);
      req.onblocked = () => reject(new Error('IndexedDB blocked'));
    });
    opening.catch(() => {
      opening = null;
    });
  }
  return opening;
}

// One transaction on one store; `work(store)` returns a request or nothing; resolves once the data is durable.
async function tx(storeName, mode, work) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const t = db.transaction(storeName, mode, { durability: 'strict' });
    let result;
    const req = work(t.objectStore(storeName));
    if (req) req.onsuccess = () => (result = req.result);
    t.oncomplete = () => resolve(result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error || new Error('transaction aborted'));
  });
}

export const outbox = {
  all: () => tx('outbox', 'readonly', (s) => s.getAll()),
  get: (seq) => tx('outbox', 'readonly', (s) => s.get(seq)),
  add: (item) => tx('outbox', 'readwrite', (s) => s.add(item)),
  put: (item) => tx('outbox', 'readwrite', (s) => s.put(item)),
  delete: (seq) => tx('outbox', 'readwrite', (s) => s.delete(seq)),
};

export const cache = {
  async get(id) {
    return (await tx('cache', 'readonly', (s) => s.get(id))) || null;
  },
  put: (id, data) => tx('cache', 'readwrite', (s) => s.put({ id, data, at: new Date().toISOString() })),
};
