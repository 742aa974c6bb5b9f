import request from 'supertest';
import { ConfigService } from '../../../src/config/config.service';
import { loadConfig } from '../../../src/config/load-config';
import { ErrorCode } from '../../../src/common/errors/error-code.enum';
import { TaskStatus } from '../../../src/queue/task.types';
import { RedisService } from '../../../src/redis/redis.service';
import { DistributedLockService } from '../../../src/state/lock/distributed-lock.service';
import { StateRepository, type WriteOutcome } from '../../../src/state/state.repository';
import { type QueueHarness, eventually, startQueue } from '../queue/queue-harness';
import { RedisSentinelTopology } from '../../../bench/support/redis-sentinel-topology';
import { auth, startTestApp, type TestApp, uniquePrefix } from '../../support/test-app';

/**
 * Redis with Sentinel on real processes: a master, one replica and three Sentinels of our own
 * (bench/support/redis-sentinel-topology.ts). The master is SIGKILLed; Switchyard's connections
 * (records and scripts, BullMQ, subscribers, locks) must follow the promoted replica without a
 * restart, WAIT must turn a missing replica into a 503, and fencing tokens must only grow.
 */
jest.setTimeout(180_000);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('Redis Sentinel failover (private master + replica + 3 Sentinels)', () => {
  let topo: RedisSentinelTopology;

  const haEnv = (extra: Record<string, string> = {}) => ({
    ...topo.env(),
    REDIS_COMMAND_TIMEOUT_MS: '2000',
    REDIS_WAIT_TIMEOUT_MS: '500',
    LOG_LEVEL: 'error',
    ...extra,
  });

  /** Kills the master, waits for the promotion and brings the old node back as a replica. */
  const failover = async () => {
    const old = await topo.killMaster();
    const killedAt = Date.now();
    const promoted = await topo.waitForFailover(old);
    const promotedAfterMs = Date.now() - killedAt;
    await topo.restartAsReplica(old);
    return { old, promoted, killedAt, promotedAfterMs };
  };

  beforeAll(async () => {
    topo = await RedisSentinelTopology.start({ replicas: 1, sentinels: 3 });
  }, 90_000);

  afterAll(async () => {
    await topo?.stop();
  });

  describe('the queue follows the new master', () => {
    let h: QueueHarness;
    const runs = new Map<string, number>();

    beforeAll(async () => {
      // The reconciler on, as in production: a submission whose job push was cut by the
      // failover (its replay with the same key finds the record) gets its job back from it.
      h = await startQueue(
        haEnv({
          REDIS_MIN_REPLICAS_ACK: '1',
          QUEUE_RECONCILE_INTERVAL_MS: '1000',
          QUEUE_RECONCILE_GRACE_MS: '2000',
        }),
        uniquePrefix('ha-queue'),
      );
      await h.queue.startProcessing(
        async (task) => {
          runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
          await sleep(5);
          return { kind: 'completed', result: { ok: task.id } };
        },
        { concurrency: 8 },
      );
    });

    afterAll(async () => {
      await h?.close().catch(() => undefined);
    });

    it('keeps accepting and completing tasks across a SIGKILL of the master; BullMQ workers are not stuck', async () => {
      // Submitted with idempotency keys and retried until answered, as a client should.
      const accepted = new Map<string, string>(); // key -> task id
      const submit = async (key: string): Promise<void> => {
        for (;;) {
          try {
            const { task } = await h.queue.enqueue({
              capability: 'ha',
              payload: { key },
              idempotencyKey: key,
            });
            const earlier = accepted.get(key);
            if (earlier) expect(task.id).toBe(earlier);
            accepted.set(key, task.id);
            return;
          } catch {
            await sleep(50);
          }
        }
      };
      for (let i = 0; i < 20; i++) await submit(`before-${i}`);
      await eventually(async () => (await h.queue.counts()).completed >= 20, 20_000);

      let n = 0;
      let stop = false;
      const stream = (async () => {
        while (!stop) {
          await submit(`during-${n++}`);
          await sleep(20);
        }
      })();

      const { promotedAfterMs, killedAt } = await failover();
      // The first task submitted after the promotion must run to COMPLETED: the BullMQ worker
      // (blocking connection) and the outcome path both moved to the new master.
      const probe = `after-${Date.now()}`;
      await submit(probe);
      const probeId = accepted.get(probe)!;
      await eventually(
        async () => (await h.queue.findTask(probeId))?.status === TaskStatus.Completed,
        30_000,
      );
      const recoveryMs = Date.now() - killedAt;
      await sleep(500);
      stop = true;
      await stream;

      // Every accepted task completes; none is lost, none exists twice for one key.
      const ids = [...accepted.values()];
      expect(new Set(ids).size).toBe(accepted.size);
      let pending: string[] = [];
      await eventually(async () => {
        const rows = await Promise.all(ids.map((id) => h.queue.findTask(id)));
        pending = rows.flatMap((t, i) =>
          t?.status === TaskStatus.Completed ? [] : [`${ids[i]}:${t?.status ?? 'MISSING'}`],
        );
        return pending.length === 0;
      }, 60_000).catch(() => undefined);
      expect(pending).toEqual([]);
      const lost = ids.filter((id) => !runs.has(id));
      expect(lost).toEqual([]);
      process.stderr.write(
        `${JSON.stringify({ test: 'redis-sentinel-failover', accepted: ids.length, promoted_after_ms: promotedAfterMs, redis_failover_recovery_ms: recoveryMs, ran_twice: [...runs.values()].filter((r) => r > 1).length })}\n`,
      );
      expect(recoveryMs).toBeLessThan(15_000);
    });
  });

  describe('WAIT (REDIS_MIN_REPLICAS_ACK=1)', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await startTestApp(haEnv({ REDIS_MIN_REPLICAS_ACK: '1', REDIS_WAIT_TIMEOUT_MS: '300' }));
    });

    afterAll(async () => {
      await t?.close();
    });

    it('answers 503 when no replica confirms a submission in time; the retry with the same key returns the one task', async () => {
      const ok = await request(t.server)
        .post('/v1/tasks')
        .set(auth())
        .set('Idempotency-Key', 'ha-wait-ok')
        .send({ capability: 'ha-wait' });
      expect(ok.status).toBe(201);

      const replicas = await topo.replicaPorts();
      replicas.forEach((p) => topo.pause(p));
      let refused: request.Response;
      try {
        refused = await request(t.server)
          .post('/v1/tasks')
          .set(auth())
          .set('Idempotency-Key', 'ha-wait-1')
          .send({ capability: 'ha-wait', payload: { n: 1 } });
      } finally {
        replicas.forEach((p) => topo.resume(p));
      }
      expect(refused.status).toBe(503);
      const err = (
        refused.body as {
          error: { code: string; message: string; details: Record<string, unknown> };
        }
      ).error;
      expect(err.code).toBe(ErrorCode.DependencyUnavailable);
      expect(err.details).toMatchObject({
        dependency: 'redis',
        reason: 'replication_timeout',
        replicasRequired: 1,
        replicasAcked: 0,
        timeoutMs: 300,
      });
      expect(err.message).toMatch(/idempotency key/i);
      const id = (err.details.taskIds as string[])[0];

      // The replica is back: the same key answers with the same task, now confirmed.
      let retry: request.Response | undefined;
      for (let i = 0; i < 50; i++) {
        retry = await request(t.server)
          .post('/v1/tasks')
          .set(auth())
          .set('Idempotency-Key', 'ha-wait-1')
          .send({ capability: 'ha-wait', payload: { n: 1 } });
        if (retry.status !== 503) break;
        await sleep(100);
      }
      expect(retry!.status).toBe(200);
      expect((retry!.body as { id: string }).id).toBe(id);
      const list = await request(t.server)
        .get('/v1/tasks?capability=ha-wait&limit=100')
        .set(auth());
      const mine = (list.body as { items: { id: string; idempotencyKey?: string }[] }).items.filter(
        (x) => x.idempotencyKey === 'ha-wait-1',
      );
      expect(mine.map((x) => x.id)).toEqual([id]);
    });
  });

  describe('fencing across a failover', () => {
    const prefix = uniquePrefix('ha-fence');
    interface Writer {
      redis: RedisService;
      locks: DistributedLockService;
      repo: StateRepository;
    }
    const writers: Writer[] = [];
    const writer = async (extra: Record<string, string>): Promise<Writer> => {
      const config = new ConfigService(loadConfig({ ...haEnv(extra), REDIS_KEY_PREFIX: prefix }));
      const redis = new RedisService(config);
      await redis.onModuleInit();
      const w = {
        redis,
        locks: new DistributedLockService(redis, config),
        repo: new StateRepository(redis),
      };
      writers.push(w);
      return w;
    };
    /** A write retried through the seconds a connection needs to find the new master. */
    const write = async (w: Writer, fence: number, value: unknown): Promise<WriteOutcome> => {
      for (let i = 0; ; i++) {
        try {
          return await w.repo.write({ key: 'doc', fence, value, updatedBy: 'test' });
        } catch (e) {
          if (i > 100) throw e;
          await sleep(100);
        }
      }
    };

    afterAll(async () => {
      for (const w of writers) {
        await w.locks.onApplicationShutdown();
        await w.redis.onApplicationShutdown();
      }
    });

    it('tokens from two writers only grow although the new master lost the last grant, and the stale write is refused', async () => {
      const a = await writer({ REDIS_MIN_REPLICAS_ACK: '0' });
      const b = await writer({ REDIS_MIN_REPLICAS_ACK: '0' });
      const acked = await writer({ REDIS_MIN_REPLICAS_ACK: '1', REDIS_WAIT_TIMEOUT_MS: '300' });

      const first = await a.locks.acquire('doc', { watchdog: false, ttlMs: 60_000 });
      expect(await write(a, first.fence, { v: 1 })).toMatchObject({ status: 'ok' });
      await first.release();

      // From here the replica receives nothing: the next grant exists only on the old master.
      await topo.cutReplication();
      // With REDIS_MIN_REPLICAS_ACK=1 such a grant is refused (503) and the lock freed...
      await expect(
        acked.locks.acquire('doc', { watchdog: false, waitMs: 0 }),
      ).rejects.toMatchObject({ code: ErrorCode.DependencyUnavailable });
      // ...without it (0), A gets the token and writes; both are lost in the failover below.
      const stale = await a.locks.acquire('doc', { watchdog: false, ttlMs: 60_000 });
      expect(stale.fence).toBeGreaterThan(first.fence);
      expect(await write(a, stale.fence, { v: 2 })).toMatchObject({ status: 'ok' });

      await failover();
      await topo.restoreReplication();
      const master = await topo.currentMaster();
      const direct = topo.connect(master.port);
      try {
        // The promoted replica never saw the stale grant: a plain INCR would go back.
        const counter = Number(await direct.get(`${prefix}state:fence:doc`));
        expect(counter).toBe(first.fence);
        expect(counter).toBeLessThan(stale.fence);
      } finally {
        direct.disconnect();
      }

      // B takes the lock on the new master: its token is above every token issued before.
      let fresh;
      for (let i = 0; !fresh; i++) {
        fresh = await b.locks.acquire('doc', { watchdog: false }).catch((e: unknown) => {
          if (i > 100) throw e;
          return sleep(100).then(() => undefined);
        });
      }
      expect(fresh.fence).toBeGreaterThan(stale.fence);
      expect(await write(b, fresh.fence, { v: 3 })).toMatchObject({ status: 'ok' });
      // A, still believing it holds the lock, writes with its stale token: refused.
      expect(await write(a, stale.fence, { v: 'stale' })).toEqual({
        status: 'fence',
        newerFence: fresh.fence,
      });
      const doc = await b.repo.read('doc');
      expect(doc?.value).toEqual({ v: 3 });
      await fresh.release();
    });
  });
});
