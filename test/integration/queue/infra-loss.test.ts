import { TaskStatus } from '../../../src/queue/task.types';
import { type QueueHarness, startQueue } from './queue-harness';

describe('infrastructure losses do not spend a task’s retries (real Redis)', () => {
  let h: QueueHarness;

  beforeEach(async () => {
    h = await startQueue({ QUEUE_MAX_INFRA_LOSSES: '3', QUEUE_RETRY_BASE_DELAY_MS: '60000' });
  });
  afterEach(async () => {
    await h.close();
  });

  const lost = { type: 'agent_lost', message: 'worker died', retryable: true };

  it('re-dispatches at once with a new (fenced) attempt, retries untouched, until the cap', async () => {
    await h.queue.enqueue({ id: 'p', capability: 'x', retry: { maxRetries: 0 } });
    let t = (await h.queue.dequeue())!;
    expect(await h.queue.fail('p', 0, lost)).toMatchObject({
      accepted: true,
      status: 'retrying',
      attempt: 1,
    });
    // No backoff: READY now (the retry base delay is a minute).
    t = (await h.queue.dequeue())!;
    expect(t).toMatchObject({ id: 'p', attempt: 1 });
    // The lost attempt's late answer is fenced off.
    expect(await h.queue.complete('p', 0, 'late')).toBe(false);
    expect(await h.queue.fail('p', 1, lost)).toMatchObject({ status: 'retrying', attempt: 2 });
    await h.queue.dequeue();
    // The third loss reaches QUEUE_MAX_INFRA_LOSSES=3: a task that kills every worker fails.
    expect(await h.queue.fail('p', 2, lost)).toMatchObject({ status: 'failed' });
    expect(await h.queue.getTask('p')).toMatchObject({ status: TaskStatus.Failed });
    expect((await h.queue.getTask('p')).error?.message).toContain('QUEUE_MAX_INFRA_LOSSES');
  });

  it('a task with maxRetries 0 that lost its worker still gets its one real try', async () => {
    await h.queue.enqueue({ id: 'q', capability: 'x', retry: { maxRetries: 0 } });
    await h.queue.dequeue();
    await h.queue.fail('q', 0, { type: 'undelivered', message: 'came back', retryable: true });
    await h.queue.dequeue();
    expect(await h.queue.complete('q', 1, { ok: 1 })).toBe(true);
    expect(await h.queue.getTask('q')).toMatchObject({ status: 'COMPLETED', result: { ok: 1 } });
  });

  it('a re-dispatch goes ahead of new work of the same priority, behind more urgent work', async () => {
    await h.queue.enqueue({ id: 'old', capability: 'x', priority: 5 });
    await h.queue.dequeue();
    await h.queue.enqueue({ id: 'new1', capability: 'x', priority: 5 });
    await h.queue.enqueue({ id: 'new2', capability: 'x', priority: 5 });
    await h.queue.enqueue({ id: 'urgent', capability: 'x', priority: 6 });
    await h.queue.fail('old', 0, lost);
    const order: string[] = [];
    for (let t = await h.queue.dequeue(); t; t = await h.queue.dequeue()) order.push(t.id);
    expect(order).toEqual(['urgent', 'old', 'new1', 'new2']);
  });

  it('the task’s own failures still use its retries', async () => {
    await h.queue.enqueue({ id: 'r', capability: 'x', retry: { maxRetries: 1 } });
    await h.queue.dequeue();
    await h.queue.fail('r', 0, lost);
    await h.queue.dequeue();
    expect(
      await h.queue.fail('r', 1, { type: 'timeout', message: 't', retryable: true }),
    ).toMatchObject({
      status: 'retrying',
    });
  });
});

describe('usage limits park the task until the reset (real Redis)', () => {
  let h: QueueHarness;
  beforeEach(async () => {
    h = await startQueue();
  });
  afterEach(async () => {
    await h.close();
  });

  it('a rate_limited failure with a reset time waits for it and spends no attempt', async () => {
    await h.queue.enqueue({ id: 'rl', capability: 'claude', retry: { maxRetries: 0 } });
    await h.queue.dequeue();
    const retryAt = new Date(Date.now() + 400).toISOString();
    const res = await h.queue.fail('rl', 0, {
      type: 'rate_limited',
      message: 'usage limit reached',
      retryable: true,
      details: { retryAt },
    });
    expect(res).toMatchObject({ accepted: true, status: 'retrying', attempt: 0 });
    const waiting = await h.queue.getTask('rl');
    expect(waiting).toMatchObject({ status: 'READY', attempt: 0 });
    expect(waiting.reason).toContain('rate limited until');
    expect(await h.queue.dequeue()).toBeNull(); // not before the reset
    await new Promise((r) => setTimeout(r, 600));
    const again = await h.queue.dequeue();
    expect(again).toMatchObject({ id: 'rl', attempt: 0 });
    expect(await h.queue.complete('rl', 0, 'done')).toBe(true);
  });
});
