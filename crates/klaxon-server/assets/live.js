// A live server-sent-event stream: EventSource (the session cookie goes along, same origin),
// its connection state for the page to show, and resume with Last-Event-ID, which the browser
// sends by itself when it reconnects. When the server refuses the stream (EventSource gives
// up), it is opened again with a backoff and the owner is told to resync.

export class Live {
  /**
   * @param {string} url
   * @param {Record<string, (data: any, ev: MessageEvent) => void>} handlers by event name
   * @param {(state: "connecting"|"live"|"reconnecting"|"offline") => void} onState
   */
  constructor(url, handlers, onState = () => {}) {
    this.url = url;
    this.handlers = handlers;
    this.onState = onState;
    this.state = "connecting";
    this.es = null;
    this.retry = 1000;
    this.timer = 0;
    this.lastId = "";
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.open();
    return this;
  }

  open() {
    const es = new EventSource(this.url, { withCredentials: true });
    this.es = es;
    es.onopen = () => {
      this.retry = 1000;
      this.set("live");
    };
    es.onerror = () => {
      if (this.stopped) return;
      if (es.readyState === EventSource.CLOSED) {
        // Refused (an HTTP error): try again later, as a new stream.
        this.set("offline");
        clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          if (this.stopped) return;
          this.handlers.reopened?.();
          this.open();
        }, this.retry);
        this.retry = Math.min(this.retry * 2, 30000);
      } else {
        // The browser reconnects on its own and sends Last-Event-ID.
        this.set("reconnecting");
      }
    };
    for (const [name, fn] of Object.entries(this.handlers)) {
      if (name === "reopened") continue;
      es.addEventListener(name, (ev) => {
        if (ev.lastEventId) this.lastId = ev.lastEventId;
        if (this.state !== "live") this.set("live");
        let data = ev.data;
        try {
          data = JSON.parse(ev.data);
        } catch {
          /* not JSON: hand over the text */
        }
        fn(data, ev);
      });
    }
  }

  set(state) {
    if (state === this.state) return;
    this.state = state;
    this.onState(state);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.es?.close();
    this.es = null;
  }
}
