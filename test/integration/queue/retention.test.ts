import { TaskStatus } from '../../../src/queue/task.types';
import { type QueueHarness, startQueue } from './queue-harness';

describe('retention: finished tasks leave Redis, still readable from the archive (real Redis)', () => {
  let h: QueueHarness;

  afterEach(async () => {
    await h.close();
  });

  it('archives and removes tasks past TASK_RETENTION_SECONDS; GET finds them in the archive', async () => {
    h = await startQueue({ TASK_RETENTION_SECONDS: '60', TASK_RETENTION_SWEEP_MS: '0' });
    await h.queue.enqueue({ id: 'done', capability: 'x', payload: { n: 1 } });
    await h.queue.enqueue({ id: 'open', capability: 'x' });
    await h.queue.dequeue();
    await h.queue.complete('done', 0, { answer: 42 });
    // Not yet expired: nothing removed.
    expect(await h.queue.maintenance.sweepRetention()).toEqual({ archived: 0, removed: 0 });
    // Two minutes later: the finished task goes, the open one stays.
    const later = Date.now() + 120_000;
    expect(await h.queue.maintenance.sweepRetention(later)).toEqual({ archived: 1, removed: 1 });
    expect(await h.queue.store.findRaw('done')).toBeUndefined();
    expect(await h.queue.getTask('done')).toMatchObject({
      id: 'done',
      status: TaskStatus.Completed,
      result: { answer: 42 },
      payload: { n: 1 },
    });
    expect((await h.queue.getTask('open')).status).toBe(TaskStatus.Ready);
    expect(await h.queue.counts()).toMatchObject({ completed: 0, ready: 1 });
  });

  it('keeps a finished task while a dependent still waits for its result', async () => {
    h = await startQueue({ TASK_RETENTION_SECONDS: '1', TASK_RETENTION_SWEEP_MS: '0' });
    await h.queue.enqueue({ id: 'dep', capability: 'x' });
    await h.queue.enqueue({ id: 'child', capability: 'x', dependsOn: ['dep', 'other'] });
    await h.queue.dequeue();
    await h.queue.complete('dep', 0, 'r');
    expect(await h.queue.maintenance.sweepRetention(Date.now() + 10_000)).toMatchObject({
      removed: 0,
    });
    expect(await h.queue.store.findRaw('dep')).toBeDefined();
  });

  it('caps the number of finished tasks kept, oldest first, and removes an ended workflow with its last task', async () => {
    h = await startQueue({
      TASK_RETENTION_SECONDS: '0',
      TASK_RETENTION_MAX_TASKS: '2',
      TASK_RETENTION_SWEEP_MS: '0',
    });
    const { workflow } = await h.queue.submitWorkflow({
      tasks: [
        { ref: 'a', id: 'a', capability: 'x' },
        { ref: 'b', id: 'b', capability: 'x' },
      ],
    });
    for (const id of ['a', 'b']) {
      await h.queue.dequeue();
      await h.queue.complete(id, 0, id);
    }
    await h.queue.enqueue({ id: 'c', capability: 'x' });
    await h.queue.dequeue();
    await h.queue.complete('c', 0, 'c');
    expect(await h.queue.maintenance.sweepRetention()).toMatchObject({ removed: 1 });
    expect(await h.queue.store.findRaw('a')).toBeUndefined();
    expect(await h.queue.store.findRaw('b')).toBeDefined();
    expect(await h.queue.findWorkflow(workflow.id)).toBeDefined();
    await h.queue.enqueue({ id: 'd', capability: 'x' });
    await h.queue.dequeue();
    await h.queue.complete('d', 0, 'd');
    await h.queue.maintenance.sweepRetention();
    expect(await h.queue.store.findRaw('b')).toBeUndefined();
    expect(await h.queue.findWorkflow(workflow.id)).toBeUndefined();
  });
});
