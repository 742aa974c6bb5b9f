import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort, sleep } from '../../support/processes';
import { type QueueHarness, startQueue } from './queue-harness';

jest.setTimeout(60_000);

/** A private redis-server with AOF on a free port (this test stops and restarts it). */
class PrivateRedis {
  proc?: ChildProcess;
  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    this.proc = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--appendonly',
        'yes',
        '--dir',
        this.dir,
        '--save',
        '',
      ],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100; i++) {
      const c = new Redis(this.url, {
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      try {
        await c.connect();
        await c.ping();
        c.disconnect();
        return;
      } catch {
        c.disconnect();
        await sleep(50);
      }
    }
    throw new Error('private redis-server did not start');
  }
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  }
}

describe('an outcome written while Redis is away is applied when it is back (private Redis)', () => {
  let redis: PrivateRedis;
  let h: QueueHarness;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sy-redis-outage-'));
    redis = new PrivateRedis(await freePort(), dir);
    await redis.start();
    h = await startQueue({ REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '500' });
  });
  afterAll(async () => {
    await h?.close().catch(() => undefined);
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('completes the task seconds after Redis returns, not at its timeout, and runs it once', async () => {
    let runs = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await h.queue.startProcessing(
      async () => {
        runs++;
        await gate;
        return { kind: 'completed', result: { ok: true } };
      },
      { concurrency: 2 },
    );
    await h.queue.enqueue({ id: 'outage', capability: 'x', timeoutMs: 120_000 });
    const deadline = Date.now() + 10_000;
    while (runs === 0 && Date.now() < deadline) await sleep(20);
    expect(runs).toBe(1);
    // Redis goes away while the task runs; the handler finishes during the outage.
    await redis.stop();
    release();
    await sleep(1500);
    await redis.start();
    const back = Date.now();
    let status = '';
    while (Date.now() - back < 15_000) {
      status = (await h.queue.getTask('outage').catch(() => undefined))?.status ?? '';
      if (status === 'COMPLETED') break;
      await sleep(100);
    }
    expect(status).toBe('COMPLETED');
    expect(Date.now() - back).toBeLessThan(10_000);
    expect(runs).toBe(1);
  });
});
