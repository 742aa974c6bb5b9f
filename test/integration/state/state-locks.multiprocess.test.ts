import { randomBytes } from 'node:crypto';
import { ConfigService } from '../../../src/config/config.service';
import { loadConfig } from '../../../src/config/load-config';
import { RedisService } from '../../../src/redis/redis.service';
import { DistributedLockService } from '../../../src/state/lock/distributed-lock.service';
import { StateRepository } from '../../../src/state/state.repository';
import { deletePrefix } from '../../support/redis-cleanup';
import { uniquePrefix } from '../../support/test-app';
import { LineReader, spawnTs, stopChild } from './support/child-process';

const CHILD = 'test/integration/state/support/lock-holder.child.ts';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('state locks across processes (real Redis, child processes)', () => {
  const prefix = uniquePrefix('state-locks');
  const env = {
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_KEY_PREFIX: prefix,
    LOG_LEVEL: 'error',
    STATE_LOCK_TTL_MS: '60',
  };
  let redis: RedisService;
  let locks: DistributedLockService;
  let repo: StateRepository;
  const children: LineReader[] = [];

  const startChild = async (): Promise<LineReader> => {
    const reader = new LineReader(spawnTs(CHILD, [], env));
    children.push(reader);
    expect(await reader.next(30_000)).toBe('ready');
    return reader;
  };

  beforeAll(async () => {
    const config = new ConfigService(loadConfig(env));
    redis = new RedisService(config);
    await redis.onModuleInit();
    locks = new DistributedLockService(redis, config);
    repo = new StateRepository(redis);
  });

  afterAll(async () => {
    await Promise.all(children.map((c) => stopChild(c.child)));
    await locks?.onApplicationShutdown();
    await redis?.onApplicationShutdown();
    await deletePrefix(prefix);
  });

  it('three processes race for one lock: one holds it at a time, the others wait for the release', async () => {
    const racers = await Promise.all([startChild(), startChild(), startChild()]);
    const name = `race-${randomBytes(3).toString('hex')}`;
    racers.forEach((r) => r.send(`hold ${name} 150`));
    const spans = await Promise.all(
      racers.map(async (r) => {
        const [, fence, at] = (await r.next()).split(' ');
        const [, releasedAt] = (await r.next()).split(' ');
        return { fence: Number(fence), from: Number(at), to: Number(releasedAt) };
      }),
    );
    spans.sort((a, b) => a.from - b.from);
    // Fencing tokens follow the order of acquisition.
    expect(spans.map((s) => s.fence)).toEqual([...spans.map((s) => s.fence)].sort((a, b) => a - b));
    for (let i = 1; i < spans.length; i++) {
      // Each waiter got the lock only once the previous holder had released it.
      expect(spans[i].from).toBeGreaterThanOrEqual(spans[i - 1].to);
      expect(spans[i].to - spans[i].from).toBeGreaterThanOrEqual(140);
    }
  }, 60_000);

  it('refuses the write of a holder paused (SIGSTOP) past its ttl: 0 stale writes in 100 trials', async () => {
    const holder = await startChild();
    const key = `fenced/${randomBytes(3).toString('hex')}`;
    let refused = 0;
    let accepted = 0;
    for (let trial = 0; trial < 100; trial++) {
      holder.send(`acquire ${key}`);
      const [word, staleFence] = (await holder.next()).split(' ');
      expect(word).toBe('acquired');
      holder.child.kill('SIGSTOP');
      // The paused holder cannot extend; another writer gets the lock once the ttl runs out.
      const lock = await locks.acquire(key, { waitMs: 5000 });
      expect(lock.fence).toBeGreaterThan(Number(staleFence));
      const ours = await repo.write({
        key,
        fence: lock.fence,
        value: { trial, by: 'parent' },
        updatedBy: 'parent',
      });
      expect(ours.status).toBe('ok');
      await lock.release();
      // Resume the old holder with its write already queued: it still believes it holds the lock.
      holder.send(`write ${JSON.stringify({ trial, by: 'stale' })}`);
      holder.child.kill('SIGCONT');
      const outcome = JSON.parse((await holder.next()).slice('wrote '.length)) as {
        status: string;
      };
      if (outcome.status === 'fence') refused++;
      else accepted++;
      holder.send('release');
      await holder.next();
      expect((await repo.read(key))?.value).toEqual({ trial, by: 'parent' });
    }
    expect({ refused, accepted }).toEqual({ refused: 100, accepted: 0 });
  }, 120_000);

  it('force-releases a lock held past the maximum hold time', async () => {
    const name = `stuck-${randomBytes(3).toString('hex')}`;
    const first = await locks.acquire(name, { maxHoldMs: 150, ttlMs: 60 });
    await sleep(40);
    expect(first.lost).toBe(false);
    // The watchdog keeps extending until the maximum; then the lock is force-released (by the
    // next contender or by the watchdog itself, whichever sees it first).
    const second = await locks.acquire(name, { waitMs: 3000, maxHoldMs: 150 });
    expect(Date.now() - first.acquiredAt).toBeGreaterThanOrEqual(150);
    await sleep(60); // the first holder's watchdog notices on its next tick
    expect(first.lost).toBe(true);
    expect(second.fence).toBe(first.fence + 1);
    expect(await first.release()).toBe(false);
    expect(await second.release()).toBe(true);
  });
});
