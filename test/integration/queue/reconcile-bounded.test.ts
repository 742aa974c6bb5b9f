import type { Socket } from 'node:net';
import type Redis from 'ioredis';
import { JobPusher } from '../../../src/queue/job-pusher.service';
import { QueueMaintenance } from '../../../src/queue/queue-maintenance.service';
import { TaskStatus } from '../../../src/queue/task.types';
import { RedisService } from '../../../src/redis/redis.service';
import { type QueueHarness, startQueue } from './queue-harness';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The ioredis connection of BullMQ's Queue (the one job pushes go through). */
async function bullQueueConnection(h: QueueHarness): Promise<Redis> {
  h.get(JobPusher).jobs.open();
  const all = (h.get(RedisService) as unknown as { extra: Set<Redis> }).extra;
  const conn = [...all].find((c) => c.options.connectionName === 'switchyard-bullmq-queue');
  if (!conn) throw new Error('no BullMQ queue connection');
  if (conn.status !== 'ready') await new Promise((r) => conn.once('ready', r));
  return conn;
}

/**
 * The ha run that failed ended with 1,412 tasks RUNNING ~290 s with timeoutMs 60,000: the
 * reconciler's running_past_deadline repair never ran. Everything it awaits must be bounded: a
 * BullMQ connection (no command timeout, commands queued while it reconnects) that does not
 * answer after a failover must not hold a reconcile() - nor the housekeeping slot - forever.
 */
describe('the reconciler while BullMQ does not answer (real Redis)', () => {
  let h: QueueHarness;
  let socket: Socket | undefined;

  afterEach(async () => {
    socket?.resume();
    socket = undefined;
    await h?.close();
  });

  it('fails a RUNNING task past its deadline without waiting for the retry job push', async () => {
    h = await startQueue({ QUEUE_RECONCILE_GRACE_MS: '0', QUEUE_RETRY_BASE_DELAY_MS: '1' });
    await h.queue.enqueue({ id: 'lost', capability: 'x', timeoutMs: 30 });
    expect((await h.queue.dequeue())?.id).toBe('lost');
    await sleep(60);
    // BullMQ's queue connection stops hearing from Redis (a half-open socket, a node that hangs).
    const conn = await bullQueueConnection(h);
    socket = (conn as unknown as { stream: Socket }).stream;
    socket.pause();

    const outcome = await Promise.race([
      h.queue.reconcile(),
      sleep(8000).then(() => 'still waiting after 8 s' as const),
    ]);
    expect(outcome).toEqual({ repushed: 0, expired: 1 });
    const t = await h.queue.getTask('lost');
    expect(t).toMatchObject({ status: TaskStatus.Ready, attempt: 1, error: { type: 'timeout' } });
  }, 30_000);

  it('a housekeeping run that never settles does not stop the next ones', async () => {
    h = await startQueue();
    const maintenance = h.get(QueueMaintenance);
    let calls = 0;
    maintenance.every(
      'test',
      20,
      () => {
        calls++;
        return calls === 1 ? new Promise<void>(() => undefined) : Promise.resolve();
      },
      200,
    );
    await sleep(600);
    maintenance.onModuleDestroy();
    expect(calls).toBeGreaterThan(1);
  });
});
