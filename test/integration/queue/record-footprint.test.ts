import Redis from 'ioredis';
import { TaskStatus } from '../../../src/queue/task.types';
import { eventually, type QueueHarness, startQueue } from './queue-harness';

/**
 * The per-task Redis footprint (issue 11): a record stores only the fields that are set, a finished
 * one drops what only a READY task needs, there is no all-tasks index — and records written by
 * earlier versions (empty fields stored, members of the legacy `all` index) still work.
 */
describe('task record footprint (real Redis)', () => {
  let h: QueueHarness;
  let raw: Redis;

  beforeEach(async () => {
    h = await startQueue({ TASK_RETENTION_SWEEP_MS: '0' });
    raw = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  });

  afterEach(async () => {
    raw.disconnect();
    await h.close();
  });

  it('a finished task keeps only the fields that are set, as a listpack hash, and no all-tasks index', async () => {
    await h.queue.enqueue({ id: 'a', capability: 'x', payload: { n: 1 } });
    await h.queue.enqueue({ id: 'b', capability: 'x', dependsOn: ['a'] });
    for (const id of ['a', 'b']) {
      expect((await h.queue.dequeue())?.id).toBe(id);
      await h.queue.complete(id, 0, { id });
    }
    for (const id of ['a', 'b']) {
      const fields = await raw.hgetall(h.queue.store.keys.task(id));
      expect(fields.status).toBe(TaskStatus.Completed);
      expect(Object.entries(fields).filter(([, v]) => v === '')).toEqual([]);
      for (const absent of ['wf', 'ref', 'desc', 'idem', 'retry', 'reason', 'onDep', 'readyAt'])
        expect(fields).not.toHaveProperty(absent);
      expect(await raw.object('ENCODING', h.queue.store.keys.task(id))).toBe('listpack');
    }
    expect(await raw.exists(`${h.queue.store.base}all`)).toBe(0);
    // The API record is unchanged: defaults come back on read.
    expect(await h.queue.getTask('b')).toMatchObject({
      id: 'b',
      status: TaskStatus.Completed,
      onDependencyFailure: 'fail',
      dependsOn: ['a'],
      inputs: { a: { id: 'a' } },
      result: { id: 'b' },
    });
    expect(await h.queue.getTask('b')).not.toHaveProperty('reason');
  });

  it('keeps a reason while there is one and drops it when the task moves on', async () => {
    await h.queue.enqueue({ id: 'r', capability: 'x', retry: { maxRetries: 1, baseDelayMs: 1 } });
    expect((await h.queue.dequeue())?.id).toBe('r');
    expect(
      await h.queue.fail('r', 0, { type: 'timeout', message: 'slow', retryable: true }),
    ).toMatchObject({ status: 'retrying' });
    const key = h.queue.store.keys.task('r');
    expect(await raw.hget(key, 'reason')).toBe('retry');
    expect(await raw.hget(key, 'retry')).toBe('{"maxRetries":1,"baseDelayMs":1}');
    await eventually(async () => (await h.queue.dequeue())?.id === 'r');
    expect(await raw.hexists(key, 'reason')).toBe(0);
    expect((await h.queue.getTask('r')).reason).toBeUndefined();
  });

  it('lists every task without a filter, in creation order across statuses, each once per page walk', async () => {
    const ids = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'];
    await h.queue.enqueue({ id: 'p1', capability: 'x' });
    await h.queue.enqueue({ id: 'p2', capability: 'x', dependsOn: ['missing'] }); // BLOCKED
    await h.queue.enqueue({ id: 'p3', capability: 'x' });
    await h.queue.enqueue({ id: 'p4', capability: 'x' });
    await h.queue.enqueue({ id: 'p5', capability: 'x', dependsOn: ['p1'] });
    await h.queue.enqueue({ id: 'p6', capability: 'x' });
    await h.queue.enqueue({ id: 'p7', capability: 'x' });
    expect((await h.queue.dequeue())?.id).toBe('p1');
    await h.queue.complete('p1', 0, 1); // p1 COMPLETED, p5 READY
    expect((await h.queue.dequeue())?.id).toBe('p3'); // RUNNING
    await h.queue.cancel('p4'); // CANCELLED
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await h.queue.listTasks({ limit: 2, cursor });
      seen.push(...page.items.map((t) => t.id));
      cursor = page.nextCursor ?? undefined;
      // A task changing status between pages keeps its place (the score is its creation order).
      if (pages++ === 0) await h.queue.complete('p3', 0, 3);
    } while (cursor);
    expect(seen).toEqual(ids);
    expect(pages).toBe(4);
    const statuses = (await h.queue.listTasks({ limit: 10 })).items.map((t) => t.status);
    expect(statuses).toEqual([
      TaskStatus.Completed,
      TaskStatus.Blocked,
      TaskStatus.Completed,
      TaskStatus.Cancelled,
      TaskStatus.Ready,
      TaskStatus.Ready,
      TaskStatus.Ready,
    ]);
  });

  it('records written by an earlier version (empty fields stored, in the all index) still decode, list and run', async () => {
    const base = h.queue.store.base;
    const k = h.queue.store.keys;
    await h.queue.enqueue({ id: 'fresh', capability: 'x' });
    const now = Date.now();
    // Exactly what the previous enqueue-1.lua / start / complete wrote for a standalone task.
    const legacy = (id: string, seq: number, extra: Record<string, string>) => ({
      id,
      wf: '',
      ref: '',
      desc: '',
      cap: 'x',
      payload: 'null',
      prio: '5',
      deps: '[]',
      onDep: 'fail',
      timeout: '300000',
      retry: '',
      idem: '',
      status: 'NEW',
      attempt: '0',
      gen: '0',
      runs: '0',
      created: String(now),
      updated: String(now),
      seq: String(seq),
      reason: '',
      ...extra,
    });
    const s1 = await raw.incr(`${base}seq`);
    await raw.hset(
      k.task('old-done'),
      legacy('old-done', s1, {
        status: 'COMPLETED',
        gen: '1',
        runs: '1',
        readyAt: String(now),
        started: String(now),
        finished: String(now),
        result: '{"v":1}',
      }),
    );
    const s2 = await raw.incr(`${base}seq`);
    await raw.hset(
      k.task('old-wait'),
      legacy('old-wait', s2, { status: 'BLOCKED', deps: '["fresh"]' }),
    );
    await raw.sadd(`${k.task('old-wait')}:pending`, 'fresh');
    await raw.sadd(`${k.task('fresh')}:dependents`, 'old-wait');
    await raw
      .multi()
      .zadd(`${base}all`, s1, 'old-done', s2, 'old-wait')
      .zadd(k.byStatus('COMPLETED'), s1, 'old-done')
      .zadd(k.byStatus('BLOCKED'), s2, 'old-wait')
      .zadd(k.ended, now, 'old-done')
      .exec();

    expect(await h.queue.getTask('old-done')).toEqual({
      id: 'old-done',
      capability: 'x',
      payload: null,
      priority: 5,
      dependsOn: [],
      onDependencyFailure: 'fail',
      timeoutMs: 300000,
      retry: h.queue.store.retryDefaults,
      status: TaskStatus.Completed,
      attempt: 0,
      result: { v: 1 },
      createdAt: new Date(now).toISOString(),
      updatedAt: new Date(now).toISOString(),
      startedAt: new Date(now).toISOString(),
      completedAt: new Date(now).toISOString(),
      runs: 1,
      rootTaskId: 'old-done',
      depth: 0,
      attempts: [
        {
          attempt: 0,
          startedAt: new Date(now).toISOString(),
          endedAt: new Date(now).toISOString(),
          outcome: 'completed',
        },
      ],
    });
    expect((await h.queue.listTasks({ limit: 10 })).items.map((t) => t.id)).toEqual([
      'fresh',
      'old-done',
      'old-wait',
    ]);

    // The legacy BLOCKED task is released by its new dependency, runs and completes.
    expect((await h.queue.dequeue())?.id).toBe('fresh');
    await h.queue.complete('fresh', 0, 'f');
    const started = await h.queue.dequeue();
    expect(started).toMatchObject({ id: 'old-wait', inputs: { fresh: 'f' } });
    await h.queue.complete('old-wait', 0, 'w');
    expect(await h.queue.getTask('old-wait')).toMatchObject({
      status: TaskStatus.Completed,
      result: 'w',
    });
    expect(await raw.hexists(k.task('old-wait'), 'readyAt')).toBe(0);

    // Retention removes legacy records from the old index too.
    expect(await h.queue.maintenance.sweepRetention(Date.now() + 8 * 86_400_000)).toMatchObject({
      removed: 3,
    });
    expect(await raw.exists(`${base}all`)).toBe(0);
  });
});
