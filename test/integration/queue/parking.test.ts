import { TaskStatus } from '../../../src/queue/task.types';
import { type QueueHarness, startQueue } from './queue-harness';

describe('tasks no agent can take are parked, not polled (real Redis)', () => {
  let h: QueueHarness;
  beforeEach(async () => {
    h = await startQueue();
  });
  afterEach(async () => {
    await h.close();
  });

  it('a parked task has no queue job until its capability is released, then runs once', async () => {
    await h.queue.enqueue({ id: 'p1', capability: 'nobody' });
    await h.queue.enqueue({ id: 'p2', capability: 'nobody' });
    for (let i = 0; i < 2; i++) {
      const t = (await h.queue.dequeue())!;
      expect(
        await h.queue.lifecycle.park(
          t.id,
          t.attempt,
          `waiting for an agent with capability 'nobody'`,
        ),
      ).toBe(true);
    }
    const parked = await h.queue.getTask('p1');
    expect(parked).toMatchObject({ status: TaskStatus.Ready, attempt: 0 });
    expect(parked.reason).toContain("waiting for an agent with capability 'nobody'");
    expect(parked.waitingSince).toEqual(expect.any(String));
    // Nothing to take: no job exists for a parked task (no polling, no CPU).
    expect(await h.queue.dequeue()).toBeNull();
    expect(await h.queue.lifecycle.parkedCapabilities()).toEqual(['nobody']);
    expect(await h.queue.lifecycle.releaseParked('nobody')).toBe(2);
    expect(await h.queue.lifecycle.parkedCapabilities()).toEqual([]);
    const order = [(await h.queue.dequeue())?.id, (await h.queue.dequeue())?.id];
    expect(order).toEqual(['p1', 'p2']);
    expect(await h.queue.dequeue()).toBeNull();
  });

  it('fails with no_agent (not retried) once its waitTimeoutSeconds passed', async () => {
    await h.queue.enqueue({ id: 'w', capability: 'nobody', waitTimeoutSeconds: 1 });
    const t = (await h.queue.dequeue())!;
    expect(t.waitTimeoutSeconds).toBe(1);
    await h.queue.lifecycle.park(t.id, t.attempt, 'waiting');
    expect(await h.queue.lifecycle.expireParked()).toBe(0);
    expect(await h.queue.lifecycle.expireParked(Date.now() + 1500)).toBe(1);
    expect(await h.queue.getTask('w')).toMatchObject({
      status: TaskStatus.Failed,
      reason: 'no_agent',
      error: { type: 'no_agent', retryable: false },
    });
  });

  it('a cancelled parked task is not released later', async () => {
    await h.queue.enqueue({ id: 'c', capability: 'nobody' });
    const t = (await h.queue.dequeue())!;
    await h.queue.lifecycle.park(t.id, t.attempt, 'waiting');
    await h.queue.cancel('c');
    expect(await h.queue.lifecycle.releaseParked('nobody')).toBe(0);
    expect((await h.queue.getTask('c')).status).toBe(TaskStatus.Cancelled);
  });
});
