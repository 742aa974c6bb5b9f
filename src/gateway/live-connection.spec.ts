import type { WebSocket } from 'ws';
import { LiveConnection } from './live-connection';

/** A socket stand-in whose unsent bytes the test controls (the real one is in the e2e tests). */
class FakeSocket {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: string[] = [];
  readonly callbacks: (() => void)[] = [];
  closed?: { code: number; reason: string };
  terminated = false;

  send(data: string, cb?: () => void): void {
    this.sent.push(data);
    if (cb) this.callbacks.push(cb);
  }

  close(code: number, reason: string): void {
    this.closed = { code, reason };
    this.readyState = 2;
  }

  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
  }

  /** The socket flushed everything: run the write callbacks. */
  drain(): void {
    this.bufferedAmount = 0;
    for (const cb of this.callbacks.splice(0)) cb();
  }
}

function setup(limits = { maxBufferedBytes: 100, maxBufferedEvents: 2, slowClientGraceMs: 1000 }) {
  const socket = new FakeSocket();
  let now = 0;
  const conn = new LiveConnection('c1', socket as unknown as WebSocket, limits, () => now);
  conn.subscriptions.set('s1', {});
  return {
    socket,
    conn,
    advance: (ms: number) => (now += ms),
    frames: () => socket.sent.map((s) => JSON.parse(s) as Record<string, unknown>),
  };
}

describe('LiveConnection', () => {
  it('numbers events from 1 and wraps the shared event JSON', () => {
    const { conn, frames } = setup();
    conn.deliverEvent(['s1'], '{"type":"task.ready"}');
    conn.deliverEvent(['s1', 's2'], '{"type":"task.running"}');
    expect(frames()).toEqual([
      { type: 'event', seq: 1, subscriptions: ['s1'], event: { type: 'task.ready' } },
      { type: 'event', seq: 2, subscriptions: ['s1', 's2'], event: { type: 'task.running' } },
    ]);
  });

  it('queues while the socket is full, drops beyond the cap, then reports the drop', () => {
    const { conn, socket, frames } = setup();
    socket.bufferedAmount = 500;
    for (let i = 0; i < 5; i++) conn.deliverEvent(['s1'], `{"n":${i}}`);
    expect(socket.sent).toHaveLength(0);
    expect(conn.queued).toBe(2);
    expect(conn.droppedTotal).toBe(3);
    socket.bufferedAmount = 0;
    conn.flush();
    expect(frames().map((f) => f.seq ?? f.type)).toEqual([1, 2, 'dropped']);
    expect(frames()[2]).toEqual({ type: 'dropped', count: 3 });
    conn.deliverEvent(['s1'], '{"n":5}');
    expect(frames()[3]).toMatchObject({ seq: 6 });
  });

  it('flushes queued events when earlier writes complete', () => {
    const { conn, socket } = setup();
    conn.deliverEvent(['s1'], '{"n":0}');
    socket.bufferedAmount = 500;
    conn.deliverEvent(['s1'], '{"n":1}');
    expect(socket.sent).toHaveLength(1);
    socket.drain();
    expect(socket.sent).toHaveLength(2);
  });

  it('closes with 4008 a client that keeps dropping past the grace period', () => {
    const { conn, socket, advance } = setup();
    socket.bufferedAmount = 500;
    for (let i = 0; i < 3; i++) conn.deliverEvent(['s1'], '{}');
    expect(conn.checkSlow()).toBe(false);
    advance(1000);
    expect(conn.checkSlow()).toBe(true);
    expect(socket.closed?.code).toBe(4008);
    expect(socket.closed?.reason).toContain('slow consumer');
    expect(conn.isOpen).toBe(false);
    conn.deliverEvent(['s1'], '{}');
    expect(socket.sent).toHaveLength(0);
  });

  it('hands out subscription ids that are not taken', () => {
    const { conn } = setup();
    conn.subscriptions.set('s2', {});
    expect(conn.newSubscriptionId()).toBe('s3');
    expect(conn.newSubscriptionId()).toBe('s4');
  });
});
