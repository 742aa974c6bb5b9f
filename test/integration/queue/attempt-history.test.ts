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
