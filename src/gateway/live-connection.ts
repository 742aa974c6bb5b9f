import type { WebSocket } from 'ws';
import type { Principal } from '../auth/principal.type';
import type { SwitchyardEvent } from '../events/switchyard-event.type';
import { matchesFilters } from './live-filter.util';
import { LIVE_CLOSE, type LiveFilters, type LiveServerMessage } from './live-message.schema';

interface CorkableSocket {
  cork(): void;
  uncork(): void;
}

export interface LiveConnectionLimits {
  maxBufferedBytes: number;
  maxBufferedEvents: number;
  slowClientGraceMs: number;
}

/**
 * One WebSocket client of the live feed: its principal, subscriptions, sequence counter and
 * bounded send buffer. Sending never blocks: when the socket already holds `maxBufferedBytes`
 * unsent bytes, frames wait in a queue of at most `maxBufferedEvents`; beyond that they are
 * dropped (the client later gets `{"type":"dropped","count"}` and sees the gap in `seq`). A client
 * still dropping `slowClientGraceMs` after its first drop is closed with 4008.
 */
export class LiveConnection {
  principal?: Principal;
  /** Set by the heartbeat; cleared when a pong (or any message) arrives. */
  awaitingPong = false;
  readonly subscriptions = new Map<string, LiveFilters>();
  private seq = 0;
  private readonly pending: string[] = [];
  private dropped = 0;
  private firstDropAt: number | undefined;
  private closed = false;
  private corked = false;
  private corkedBytes = 0;
  private nextSubscriptionNumber = 1;
  /** Delivered / dropped totals, for stats. */
  delivered = 0;
  droppedTotal = 0;

  constructor(
    readonly id: string,
    readonly ws: WebSocket,
    private readonly limits: LiveConnectionLimits,
    private readonly now: () => number = Date.now,
  ) {}

  get isOpen(): boolean {
    return !this.closed && this.ws.readyState === this.ws.OPEN;
  }

  get queued(): number {
    return this.pending.length;
  }

  newSubscriptionId(): string {
    let id: string;
    do id = `s${this.nextSubscriptionNumber++}`;
    while (this.subscriptions.has(id));
    return id;
  }

  /** Ids of the subscriptions this event matches (empty: not for this client). */
  matching(event: SwitchyardEvent): string[] {
    const out: string[] = [];
    for (const [id, filters] of this.subscriptions) {
      if (matchesFilters(event, filters)) out.push(id);
    }
    return out;
  }

  /** Sends a control message (welcome, error...) right away, outside the event buffer. */
  sendControl(message: LiveServerMessage): void {
    if (!this.isOpen) return;
    this.ws.send(JSON.stringify(message));
  }

  /**
   * Queues an event for this client. `eventJson` is the event already serialised once for all
   * clients; the frame wraps it with this connection's sequence number.
   */
  deliverEvent(subscriptions: string[], eventJson: string): void {
    if (this.closed) return;
    const seq = ++this.seq;
    const frame = `{"type":"event","seq":${seq},"subscriptions":${JSON.stringify(subscriptions)},"event":${eventJson}}`;
    if (this.pending.length === 0 && this.dropped === 0 && this.hasRoom()) {
      this.write(frame);
      return;
    }
    if (this.pending.length < this.limits.maxBufferedEvents) {
      this.pending.push(frame);
      this.flush();
      return;
    }
    this.dropped++;
    this.droppedTotal++;
    this.firstDropAt ??= this.now();
    this.checkSlow();
  }

  /** Closes the connection when it has been dropping events for longer than the grace period. */
  checkSlow(): boolean {
    if (this.firstDropAt === undefined || this.closed) return false;
    if (this.now() - this.firstDropAt < this.limits.slowClientGraceMs) return false;
    this.close(
      LIVE_CLOSE.slowConsumer,
      `slow consumer: ${this.dropped} events dropped, buffer full for ${this.limits.slowClientGraceMs} ms`,
      true,
    );
    return true;
  }

  /** Sends queued frames while the socket has room; then the `dropped` notice, if any. */
  flush(): void {
    while (!this.closed && this.pending.length > 0 && this.hasRoom()) {
      this.write(this.pending.shift()!);
    }
    if (!this.closed && this.pending.length === 0 && this.dropped > 0 && this.hasRoom()) {
      const count = this.dropped;
      this.dropped = 0;
      this.firstDropAt = undefined;
      this.write(JSON.stringify({ type: 'dropped', count } satisfies LiveServerMessage));
    }
  }

  /**
   * Closes with a code and reason. `force` also terminates the socket shortly after, for a client
   * that will never read the close frame queued behind its unread data.
   */
  close(code: number, reason: string, force = false): void {
    if (this.closed) return;
    this.closed = true;
    this.pending.length = 0;
    this.subscriptions.clear();
    try {
      this.ws.close(code, reason.slice(0, 120));
    } catch {
      this.ws.terminate();
      return;
    }
    if (force) setTimeout(() => this.ws.terminate(), 1000).unref();
  }

  /** Marks the connection closed after the socket went away by itself. */
  markClosed(): void {
    this.closed = true;
    this.pending.length = 0;
    this.subscriptions.clear();
  }

  private hasRoom(): boolean {
    return this.ws.bufferedAmount - this.corkedBytes < this.limits.maxBufferedBytes;
  }

  private write(frame: string): void {
    this.delivered++;
    this.cork();
    if (this.corked) this.corkedBytes += frame.length + 10;
    this.ws.send(frame, this.onWritten);
  }

  /**
   * Coalesces the frames written during one turn of the event loop into one socket write (one
   * syscall and TCP segment instead of one per event): the socket is corked at the first frame
   * and uncorked by a setImmediate. ws has no batching API, so this reaches its socket. Bytes
   * held by the cork are not the client's backlog, so {@link hasRoom} leaves them out.
   */
  private cork(): void {
    if (this.corked) return;
    const socket = (this.ws as unknown as { _socket?: CorkableSocket })._socket;
    if (!socket || typeof socket.cork !== 'function') return;
    this.corked = true;
    socket.cork();
    setImmediate(() => {
      this.corked = false;
      this.corkedBytes = 0;
      socket.uncork();
    });
  }

  /** The socket took a frame: maybe there is room for queued ones now. */
  private readonly onWritten = (): void => {
    if (this.pending.length > 0 || this.dropped > 0) this.flush();
  };
}
