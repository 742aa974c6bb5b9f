import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { TaskStatus } from '../../../src/queue/task.types';
import { uniquePrefix } from '../../support/test-app';
import { eventually, type QueueHarness, startQueue } from './queue-harness';

const FIXTURES = join(__dirname, 'fixtures');

function runChild(
  args: string[],
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['-r', join(FIXTURES, 'swc-register.js'), join(FIXTURES, 'crash-child.ts'), ...args],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOG_LEVEL: 'error' } },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
}

describe('crash recovery (a process killed between steps)', () => {
  let h: QueueHarness;
  const queueName = `crash-${Date.now()}`;
  const prefix = uniquePrefix('crash');

  afterEach(async () => {
    await h.close();
  });

  it('a process killed after completing, before pushing released jobs: the reconciler repairs it', async () => {
    h = await startQueue({ QUEUE_NAME: queueName, QUEUE_RECONCILE_GRACE_MS: '0' }, prefix);
    await h.queue.enqueue({ id: 'A', capability: 'x' });
    await h.queue.enqueue({ id: 'B', capability: 'x', dependsOn: ['A'] });
    await h.queue.enqueue({ id: 'C', capability: 'x', dependsOn: ['A'] });

    const child = await runChild(['complete-then-die', prefix, queueName, 'A']);
    expect({ signal: child.signal, stderr: child.stderr }).toEqual({
      signal: 'SIGKILL',
      stderr: '',
    });

    // Completed exactly once, dependents READY (same atomic step) but no queue job for them.
    expect(await h.queue.getTask('A')).toMatchObject({
      status: TaskStatus.Completed,
      result: { by: 'child' },
    });
    expect((await h.queue.getTask('B')).status).toBe(TaskStatus.Ready);
    expect(await h.queue.dequeue()).toBeNull();

    const repaired = await h.queue.reconcile();
    expect(repaired.repushed).toBe(2);
    const got = [(await h.queue.dequeue())?.id, (await h.queue.dequeue())?.id].sort();
    expect(got).toEqual(['B', 'C']);
    expect(await h.queue.complete('A', 0, 'again')).toBe(false);
  });

  it('an instance killed mid-task: another instance re-runs it (BullMQ stalled check)', async () => {
    h = await startQueue(
      { QUEUE_NAME: queueName, QUEUE_LOCK_DURATION_MS: '1000', QUEUE_STALLED_INTERVAL_MS: '1000' },
      prefix,
    );
    await h.queue.enqueue({ id: 'S', capability: 'x' });
    const child = await runChild(['run-then-die', prefix, queueName, 'S']);
    expect(child.signal).toBe('SIGKILL');
    expect((await h.queue.getTask('S')).status).toBe(TaskStatus.Running);

    const runs: number[] = [];
    await h.queue.startProcessing(
      async (task) => {
        runs.push(task.attempt);
        return { kind: 'completed', result: 'second instance' };
      },
      { concurrency: 1 },
    );
    await eventually(
      async () => (await h.queue.getTask('S')).status === TaskStatus.Completed,
      15_000,
    );
    expect(runs).toEqual([0]);
    expect(await h.queue.getTask('S')).toMatchObject({ result: 'second instance', runs: 2 });
  });
});
