// The job's WebSocket (GET /v1/jobs/{id}/live): presence, segment locks, live segments and
// progress. Reconnects by itself (0.5 s doubling to 8 s, with jitter); the editor's lock is
// renewed while they stay on a segment.

export interface LiveEditor {
  id: string;
  name: string;
}

export interface LiveLock {
  target: string;
  index: number;
  by: LiveEditor;
  until: string;
}

export interface LiveHandlers {
  open?(): void;
  closed?(): void;
  message(msg: any): void;
}

export type LiveState = 'connecting' | 'open' | 'closed';

export class LiveChannel {
  state: LiveState = 'closed';
  private ws: WebSocket | null = null;
  private delay = 500;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private ping: ReturnType<typeof setInterval> | null = null;
  private renew: ReturnType<typeof setInterval> | null = null;
  private held: { target: string; index: number } | null = null;
  private stopped = false;
  // Tests cut the connection on purpose (to see the queue work): while paused, no reconnect.
  paused = false;

  constructor(
    private url: string,
    private handlers: LiveHandlers,
  ) {}

  connect() {
    this.stopped = false;
    if (this.ws !== null || this.paused) return;
    this.state = 'connecting';
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.state = 'open';
      this.delay = 500;
      if (this.held) this.send({ type: 'lock', ...this.held });
      this.handlers.open?.();
    };
    ws.onmessage = (ev) => {
      let msg: any;
      try {
        msg = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (msg.type === 'hello' && typeof msg.lock_seconds === 'number') this.startRenewing(msg.lock_seconds);
      this.handlers.message(msg);
    };
    ws.onclose = () => {
      this.ws = null;
      this.state = 'closed';
      this.handlers.closed?.();
      this.schedule();
    };
    if (this.ping === null) {
      this.ping = setInterval(() => this.send({ type: 'ping' }), 25000);
    }
  }

  // Holds the segment the editor is on (one at a time): releases the previous one.
  hold(target: string, index: number) {
    if (this.held && this.held.target === target && this.held.index === index) return;
    this.release();
    this.held = { target, index };
    this.send({ type: 'lock', target, index });
  }

  release() {
    if (this.held) this.send({ type: 'unlock', ...this.held });
    this.held = null;
  }

  // Cuts the connection (a test's "network down"); resume() reconnects.
  pause() {
    this.paused = true;
    this.ws?.close();
  }
  resume() {
    this.paused = false;
    this.connect();
  }

  close() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.ping) clearInterval(this.ping);
    if (this.renew) clearInterval(this.renew);
    this.ping = this.renew = this.timer = null;
    this.ws?.close();
  }

  private send(msg: unknown) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private startRenewing(seconds: number) {
    if (this.renew) clearInterval(this.renew);
    const every = Math.max(1000, (seconds * 1000) / 3);
    this.renew = setInterval(() => {
      if (this.held) this.send({ type: 'lock', ...this.held });
    }, every);
  }

  private schedule() {
    if (this.stopped || this.paused) return;
    const wait = this.delay * (0.75 + Math.random() * 0.5);
    this.delay = Math.min(this.delay * 2, 8000);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, wait);
  }
}

export function liveUrl(job: string, loc: Location = location): string {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/v1/jobs/${encodeURIComponent(job)}/live`;
}
