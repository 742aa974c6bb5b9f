import { Priority, TaskStatus } from '../../../src/queue/task.types';
import { eventually, type QueueHarness, startQueue } from './queue-harness';

describe('TaskQueueService (real Redis)', () => {
  let h: QueueHarness;

  beforeEach(async () => {
    h = await startQueue({ QUEUE_RETRY_BASE_DELAY_MS: '20', QUEUE_RETRY_MAX_DELAY_MS: '200' });
  });
  afterEach(async () => {
    await h.close();
  });

  it('enqueues and dequeues a task, marking it RUNNING', async () => {
    const { task } = await h.queue.enqueue({ capability: 'echo', payload: { n: 1 } });
    expect(task.status).toBe(TaskStatus.Ready);
    const got = await h.queue.dequeue();
    expect(got).toMatchObject({
      id: task.id,
      status: TaskStatus.Running,
      attempt: 0,
      payload: { n: 1 },
    });
    expect(await h.queue.dequeue()).toBeNull();
    expect(await h.queue.complete(task.id, 0, { ok: true })).toBe(true);
    expect(await h.queue.complete(task.id, 0, { ok: true })).toBe(false);
    expect((await h.queue.getTask(task.id)).status).toBe(TaskStatus.Completed);
  });

  it('dequeues CRITICAL before HIGH before LOW, FIFO within a priority', async () => {
    await h.queue.enqueue({ id: 'high', capability: 'x', priority: Priority.HIGH });
    await h.queue.enqueue({ id: 'low', capability: 'x', priority: Priority.LOW });
    await h.queue.enqueue({ id: 'crit', capability: 'x', priority: Priority.CRITICAL });
    await h.queue.enqueue({ id: 'high2', capability: 'x', priority: Priority.HIGH });
    const order: string[] = [];
    for (let t = await h.queue.dequeue(); t; t = await h.queue.dequeue()) order.push(t.id);
    expect(order).toEqual(['crit', 'high', 'high2', 'low']);
  });

  it('A depends on B: A is BLOCKED until B completes, then READY with B’s result as input', async () => {
    await h.queue.enqueue({ id: 'A', capability: 'x', dependsOn: ['B'] });
    expect((await h.queue.getTask('A')).status).toBe(TaskStatus.Blocked);
    await h.queue.enqueue({ id: 'B', capability: 'x' });
    const b = await h.queue.dequeue();
    expect(b?.id).toBe('B');
    expect(await h.queue.dequeue()).toBeNull();
    await h.queue.complete('B', 0, { answer: 42 });
    const a = await h.queue.dequeue();
    expect(a).toMatchObject({ id: 'A', inputs: { B: { answer: 42 } } });
  });

  it('chain A→B→C: completing C readies B, completing B readies A', async () => {
    await h.queue.enqueue({ id: 'C', capability: 'x' });
    await h.queue.enqueue({ id: 'B', capability: 'x', dependsOn: ['C'] });
    await h.queue.enqueue({ id: 'A', capability: 'x', dependsOn: ['B'] });
    expect((await h.queue.dequeue())?.id).toBe('C');
    await h.queue.complete('C', 0, 'c');
    expect((await h.queue.getTask('B')).status).toBe(TaskStatus.Ready);
    expect((await h.queue.getTask('A')).status).toBe(TaskStatus.Blocked);
    expect((await h.queue.dequeue())?.id).toBe('B');
    await h.queue.complete('B', 0, 'b');
    expect((await h.queue.dequeue())?.id).toBe('A');
  });

  it('retries a retryable failure with backoff, then fails permanently into the dead-letter list', async () => {
    await h.queue.enqueue({ id: 'T', capability: 'x', retry: { maxRetries: 2 } });
    const err = { type: 'timeout', message: 'slow', retryable: true };
    for (let attempt = 0; attempt < 2; attempt++) {
      let t = await h.queue.dequeue();
      for (let i = 0; !t && i < 100; i++) {
        await new Promise((r) => setTimeout(r, 20));
        t = await h.queue.dequeue();
      }
      expect(t).toMatchObject({ id: 'T', attempt });
      const r = await h.queue.fail('T', attempt, err);
      expect(r).toMatchObject({ accepted: true, status: 'retrying', attempt: attempt + 1 });
      expect((await h.queue.counts()).delayed).toBe(1);
    }
    let t = await h.queue.dequeue();
    for (let i = 0; !t && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 20));
      t = await h.queue.dequeue();
    }
    expect(t).toMatchObject({ id: 'T', attempt: 2 });
    expect(await h.queue.fail('T', 2, err)).toEqual({ accepted: true, status: 'failed' });
    expect((await h.queue.deadLetter(10)).items.map((x) => x.id)).toEqual(['T']);
    // requeue from the dead-letter list
    const again = await h.queue.requeue('T');
    expect(again).toMatchObject({ status: TaskStatus.Ready, attempt: 0 });
    expect((await h.queue.deadLetter(10)).items).toEqual([]);
  });

  it('fails a non-retryable error at once, and dependents follow their policy', async () => {
    await h.queue.enqueue({ id: 'up', capability: 'x' });
    await h.queue.enqueue({ id: 'dFail', capability: 'x', dependsOn: ['up'] });
    await h.queue.enqueue({
      id: 'dSkip',
      capability: 'x',
      dependsOn: ['up'],
      onDependencyFailure: 'skip',
    });
    await h.queue.enqueue({
      id: 'dCont',
      capability: 'x',
      dependsOn: ['up'],
      onDependencyFailure: 'continue',
    });
    await h.queue.dequeue();
    expect(
      await h.queue.fail('up', 0, { type: 'validation', message: 'bad', retryable: true }),
    ).toEqual({
      accepted: true,
      status: 'failed',
    });
    expect((await h.queue.getTask('dFail')).status).toBe(TaskStatus.Failed);
    expect((await h.queue.getTask('dSkip')).status).toBe(TaskStatus.Cancelled);
    expect((await h.queue.getTask('dCont')).status).toBe(TaskStatus.Ready);
    // requeue revives the failed dependent
    await h.queue.requeue('up');
    expect((await h.queue.getTask('dFail')).status).toBe(TaskStatus.Blocked);
  });

  it('finds the cycle A→B→C→A and resolves it by cancelling the lowest-priority task', async () => {
    await h.queue.enqueue({ id: 'A', capability: 'x', dependsOn: ['B'], priority: 7 });
    await h.queue.enqueue({ id: 'B', capability: 'x', dependsOn: ['C'], priority: 3 });
    await h.queue.enqueue({ id: 'C', capability: 'x', dependsOn: ['A'], priority: 5 });
    const { cycles } = await h.queue.detectDeadlocks();
    expect(cycles).toHaveLength(1);
    expect(new Set(cycles[0].taskIds)).toEqual(new Set(['A', 'B', 'C']));
    expect(cycles[0].victim).toBe('B');
    const { resolved } = await h.queue.resolveDeadlocks();
    expect(resolved).toEqual([expect.objectContaining({ cancelled: 'B' })]);
    expect(await h.queue.getTask('B')).toMatchObject({
      status: TaskStatus.Cancelled,
      reason: 'deadlock',
    });
    expect(h.events.some((e) => e.type === 'task.deadlocked' && e.taskId === 'B')).toBe(true);
    expect((await h.queue.detectDeadlocks()).cycles).toEqual([]);
    const counts = await h.queue.counts();
    expect(counts.blocked).toBe(0);
  });

  it('resolves a 50-task cycle', async () => {
    const n = 50;
    await h.queue.enqueueMany(
      Array.from({ length: n }, (_, i) => ({
        id: `c${i}`,
        capability: 'x',
        dependsOn: [`c${(i + 1) % n}`],
        priority: i === 17 ? 1 : 5,
        onDependencyFailure: 'continue' as const,
      })),
    );
    const { cycles } = await h.queue.detectDeadlocks();
    expect(cycles).toHaveLength(1);
    expect(cycles[0].taskIds).toHaveLength(n);
    const { resolved } = await h.queue.resolveDeadlocks();
    expect(resolved.map((r) => r.cancelled)).toEqual(['c17']);
    // with policy "continue" the rest of the ring now runs: c16 first
    expect((await h.queue.dequeue())?.id).toBe('c16');
  });

  it('runs a 100-task DAG with fan-in and fan-out to completion through startProcessing', async () => {
    const tasks = Array.from({ length: 100 }, (_, i) => ({
      ref: `t${i}`,
      capability: 'x',
      dependsOn:
        i === 0
          ? []
          : i < 10
            ? ['t0']
            : [`t${i % 10}`, `t${(i * 7) % i}`].filter((v, j, a) => a.indexOf(v) === j),
      payload: { i },
    }));
    const { workflow } = await h.queue.submitWorkflow({ tasks });
    const ran: string[] = [];
    await h.queue.startProcessing(
      async (task) => {
        for (const dep of task.dependsOn) expect(ran).toContain(dep);
        ran.push(task.id);
        return { kind: 'completed', result: { ref: task.ref } };
      },
      { concurrency: 8 },
    );
    const until = Date.now() + 15_000;
    let status = '';
    while (Date.now() < until) {
      status = (await h.queue.getWorkflow(workflow.id)).workflow.status;
      if (status !== 'RUNNING') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe('COMPLETED');
    expect(new Set(ran).size).toBe(100);
    expect(ran).toHaveLength(100);
    expect(
      h.events.some((e) => e.type === 'workflow.completed' && e.workflowId === workflow.id),
    ).toBe(true);
  });

  it('fails a RUNNING task whose runner vanished once its deadline passes (reconciler), then retries it', async () => {
    await h.close();
    h = await startQueue({ QUEUE_RECONCILE_GRACE_MS: '0', QUEUE_RETRY_BASE_DELAY_MS: '1' });
    await h.queue.enqueue({ id: 'lost', capability: 'x', timeoutMs: 30 });
    expect((await h.queue.dequeue())?.id).toBe('lost');
    await new Promise((r) => setTimeout(r, 60));
    expect((await h.queue.reconcile()).expired).toBe(1);
    const t = await h.queue.getTask('lost');
    expect(t).toMatchObject({ status: TaskStatus.Ready, attempt: 1, error: { type: 'timeout' } });
    expect(await h.queue.complete('lost', 0, 'too late')).toBe(false);
  });

  it('aborts a running handler when its task is cancelled, and defers without using an attempt', async () => {
    await h.queue.enqueue({ id: 'slow', capability: 'x' });
    await h.queue.enqueue({ id: 'later', capability: 'x' });
    let aborted = false;
    let deferredOnce = false;
    await h.queue.startProcessing(
      async (task, signal) => {
        if (task.id === 'later') {
          if (!deferredOnce) {
            deferredOnce = true;
            return { kind: 'deferred', reason: 'no agent', delayMs: 20 };
          }
          return { kind: 'completed', result: task.attempt };
        }
        return new Promise((resolve) =>
          signal.addEventListener('abort', () => {
            aborted = true;
            resolve({ kind: 'completed', result: 'ignored' });
          }),
        );
      },
      { concurrency: 2 },
    );
    await eventually(async () => (await h.queue.getTask('slow')).status === TaskStatus.Running);
    const cancelled = await h.queue.cancel('slow');
    expect(cancelled).toMatchObject({ status: TaskStatus.Cancelled, reason: 'user' });
    await eventually(() => aborted);
    await eventually(async () => (await h.queue.getTask('later')).status === TaskStatus.Completed);
    expect(await h.queue.getTask('later')).toMatchObject({ attempt: 0, result: 0 });
    expect(h.events.some((e) => e.type === 'task.waiting' && e.taskId === 'later')).toBe(true);
    expect((await h.queue.getTask('slow')).status).toBe(TaskStatus.Cancelled);
  });
});
