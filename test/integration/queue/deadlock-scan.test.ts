import Redis from 'ioredis';
import { type QueueHarness, startQueue } from './queue-harness';

jest.setTimeout(60_000);

/**
 * The deadlock scan reads the wait-for graph in bounded batches: with 5,000 BLOCKED tasks on the
 * suspects' paths, no script call of ours shows up in Redis' SLOWLOG (over 10 ms), where the old
 * single-script scan held Redis for ~76 ms.
 */
describe('deadlock scan in bounded batches (real Redis)', () => {
  let h: QueueHarness;
  let admin: Redis;

  beforeAll(async () => {
    h = await startQueue();
    admin = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  });
  afterAll(async () => {
    admin.disconnect();
    await h.close();
  });

  it('walks 5,000 BLOCKED tasks without a slow script and still finds the cycle', async () => {
    const n = 5000;
    // c0 waits for c1, c1 for c2, ... : each later task is a suspect (someone already waited for it).
    const chain = Array.from({ length: n }, (_, i) => ({
      id: `c${i}`,
      capability: 'x',
      dependsOn: [i === n - 1 ? 'c0' : `c${i + 1}`],
    }));
    await h.queue.enqueueMany(chain);
    const threshold = Number((await admin.config('GET', 'slowlog-log-slower-than'))[1]);
    // Only what the scan itself runs: slowlog entries newer than the newest one now.
    const newest = (await admin.slowlog('GET', 1)) as [number][];
    const sinceId = newest[0]?.[0] ?? -1;
    const { cycles, blocked } = await h.queue.detectDeadlocks();
    expect(blocked).toBe(n);
    expect(cycles).toHaveLength(1);
    expect(cycles[0].taskIds).toHaveLength(n);
    const slow = ((await admin.slowlog('GET', 128)) as [number, number, number, string[]][]).filter(
      ([id, , , args]) => id > sinceId && args.some((a) => a.includes(h.prefix)),
    );
    expect({
      threshold_us: threshold,
      slowScriptsOfOurs: slow.map(([, , us, args]) => [us, args[0], args[2]]),
    }).toEqual({
      threshold_us: threshold,
      slowScriptsOfOurs: [],
    });
    await h.queue.resolveDeadlocks();
    expect((await h.queue.detectDeadlocks()).cycles).toHaveLength(0);
  });
});
