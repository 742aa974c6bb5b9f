import { WebSocket } from 'ws';
import { LatencyRecorder } from './harness';

/**
 * Child process of the `live` benchmark: holds the WebSocket clients outside the server's
 * process (as real clients would be). Latency = now - `data.sentAt` (both epoch milliseconds
 * from performance.timeOrigin + performance.now(), comparable across processes on one machine).
 */
interface Command {
  cmd: 'connect' | 'stats' | 'reset' | 'close';
  /** Parse each event and record its latency; otherwise only count frames (throughput phase). */
  parse?: boolean;
  url?: string;
  token?: string;
  count?: number;
}

const clients: WebSocket[] = [];
const ready = new WeakSet<WebSocket>();
let received = 0;
let parse = true;
let latency = new LatencyRecorder();
const epochNow = (): number => performance.timeOrigin + performance.now();

function connect(url: string, token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/live`, {
      headers: { authorization: `Bearer ${token}` },
    });
    clients.push(ws);
    ws.on('error', reject);
    ws.on('message', (data: Buffer) => {
      if (!parse && clients.length > 0 && ready.has(ws)) {
        received++;
        return;
      }
      const msg = JSON.parse(data.toString('utf8')) as {
        type: string;
        event?: { data?: { sentAt?: number } };
      };
      if (msg.type === 'welcome') {
        ws.send(
          JSON.stringify({ type: 'subscribe', filters: { types: ['task.*', 'workflow.*'] } }),
        );
      } else if (msg.type === 'subscribed') {
        ready.add(ws);
        resolve();
      } else if (msg.type === 'event') {
        received++;
        const sentAt = msg.event?.data?.sentAt;
        if (typeof sentAt === 'number') latency.recordMs(epochNow() - sentAt);
      }
    });
  });
}

process.on('message', (m: Command) => {
  void (async () => {
    if (m.cmd === 'connect') {
      await Promise.all(Array.from({ length: m.count ?? 1 }, () => connect(m.url!, m.token!)));
      process.send?.({ ok: true });
    } else if (m.cmd === 'stats') {
      process.send?.({
        received,
        samples: latency.count,
        p50: latency.percentileMs(50),
        p99: latency.percentileMs(99),
      });
    } else if (m.cmd === 'reset') {
      received = 0;
      parse = m.parse ?? true;
      latency = new LatencyRecorder();
      process.send?.({ ok: true });
    } else {
      for (const ws of clients.splice(0)) ws.terminate();
      process.send?.({ ok: true });
    }
  })();
});
