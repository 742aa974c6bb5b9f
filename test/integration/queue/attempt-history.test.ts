import Redis from 'ioredis';
import { type QueueHarness, startQueue } from './queue-harness';

describe('every attempt is recorded: agent, start, end, outcome (real Redis)', () => {
  let h: QueueHarness;
  beforeEach(async () => {
    h = await startQueue({ QUEUE_RETRY_BASE_DELAY_MS: '0', QUEUE_RETRY_MAX_DELAY_MS: '0' });
  });
  afterEach(async () => {
    await h.close();
  });

  it('keeps a retried, a lost and a completed attempt in order', async () => {
    await h.queue.enqueue({ id: 'a', capability: 'x' });
    await h.queue.dequeue();
    await h.queue.lifecycle.assign('a', 'one@w1');
    await h.queue.fail('a', 0, { type: 'timeout', message: 'slow', retryable: true }, 'one@w1');
    await h.queue.dequeue();
    await h.queue.fail('a', 1, { type: 'agent_lost', message: 'gone', retryable: true }, 'two@w2');
    await h.queue.dequeue();
    await h.queue.complete('a', 2, 'ok', 'three@w3');
    const t = await h.queue.getTask('a');
    expect(t.attempts?.map((x) => [x.attempt, x.agentId, x.outcome, x.errorType])).toEqual([
      [0, 'one@w1', 'retried', 'timeout'],
      [1, 'two@w2', 'lost', 'agent_lost'],
      [2, 'three@w3', 'completed', undefined],
    ]);
    for (const a of t.attempts!) {
      expect(Date.parse(a.startedAt!)).toBeLessThanOrEqual(Date.parse(a.endedAt));
    }
  });

  it('stores no history list for a task whose only attempt completed, and still shows that attempt', async () => {
    await h.queue.enqueue({ id: 'one', capability: 'x' });
    await h.queue.dequeue();
    await h.queue.lifecycle.assign('one', 'solo@w1');
    await h.queue.complete('one', 0, 'ok', 'solo@w1');
    const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    try {
      // The list is the ~280 bytes a task this saves (issue 11, Redis bytes per task).
      expect(await redis.keys(`${h.prefix}*one:attempts`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
    const t = await h.queue.getTask('one');
    expect(t.attempts).toEqual([
      {
        attempt: 0,
        agentId: 'solo@w1',
        startedAt: t.startedAt,
        endedAt: t.completedAt,
        outcome: 'completed',
      },
    ]);
  });

  it('records a cancelled running attempt, and not a cancelled waiting task', async () => {
    await h.queue.enqueue({ id: 'r', capability: 'x' });
    await h.queue.enqueue({ id: 'w', capability: 'x', dependsOn: ['missing'] });
    await h.queue.dequeue();
    await h.queue.cancel('r');
    await h.queue.cancel('w');
    expect((await h.queue.getTask('r')).attempts?.map((a) => a.outcome)).toEqual(['cancelled']);
    expect((await h.queue.getTask('w')).attempts).toBeUndefined();
  });
});
