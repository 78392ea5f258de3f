// Live updates: the server says "what you see has changed" (a version, no data); the page re-reads the API.
// EventSource reconnects by itself when a stream ends; a refused stream (e.g. an expired token) is retried
// after a pause, and each retry also re-reads the API, which signs the user out on a 401.

export function live({ token, onChange, onState }) {
  let source = null;
  let last = null;
  let retry = null;
  let stopped = false;

  function open() {
    source = new EventSource(`/console/events?token=${encodeURIComponent(token)}`);
    source.addEventListener('version', (event) => {
      onState(true);
      let version;
      try {
        version = JSON.parse(event.data).version;
      } catch {
        return;
      }
      if (version !== last) {
        last = version;
        onChange();
      }
    });
    source.addEventListener('expired', () => {
      source.close();
      onState(false);
      onChange();
    });
    source.onerror = () => {
      if (source.readyState !== EventSource.CLOSED || stopped) return; // CONNECTING: the browser retries
      onState(false);
      retry = setTimeout(() => {
        if (stopped) return;
        onChange();
        open();
      }, 3000);
    };
  }

  open();
  return {
    stop() {
      stopped = true;
      clearTimeout(retry);
      if (source) source.close();
    },
  };
}
