import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busOptions } from '../../../src/bus/bus-options';
import { RabbitMqMessageBus } from '../../../src/bus/rabbitmq.transport';
import { Api, Cluster, type ControlPlane, E2E_AGENTS, ensureBuilt } from '../../support/processes';

jest.setTimeout(90_000);

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/**
 * A broker redelivery of a task message the worker already finished (same task id + attempt,
 * e.g. the ack was lost when RabbitMQ restarted) is answered from the worker's record of finished
 * attempts: the same reply is sent again and the agent does not run a second time. The same message
 * (same id) is published twice to the agent's queue of a real worker process. A new message for
 * the same attempt (a manual retry re-queues attempt 0) runs.
 */
describe('worker: redelivery of a finished attempt (e2e, real worker and RabbitMQ)', () => {
  const cluster = new Cluster('redeliv');
  let cp: ControlPlane;
  let api: Api;
  let bus: RabbitMqMessageBus;
  let dir: string;
  const client = `redelivery-client-${cluster.id}`;

  beforeAll(async () => {
    await ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'sy-redeliv-'));
    cp = await cluster.startControlPlane('cp1');
    api = new Api(cp.url);
    await cluster.startWorker('wr', join(E2E_AGENTS, 'crash'), ['side-effect'], api);
    bus = new RabbitMqMessageBus(
      busOptions({
        amqpUrl: AMQP_URL,
        namespace: cluster.namespace,
        instanceId: client,
        // Short-lived broker objects, as the cluster's processes use.
        replyQueueExpiresMs: 60_000,
        agentQueueExpiresMs: 120_000,
        taskTtlMs: 60_000,
      }),
    );
    await bus.connect();
  });

  afterAll(async () => {
    await bus?.close().catch(() => undefined);
    await cluster.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const starts = (file: string) => {
    try {
      return readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.includes('"start"')).length;
    } catch {
      return 0;
    }
  };

  it('answers the second delivery with the stored reply and runs the agent once', async () => {
    const logFile = join(dir, 'runs.log');
    const taskId = `redeliv-${randomUUID()}`;
    // One message, delivered twice: the same id, as RabbitMQ redelivers an unacked message.
    const id = randomUUID();
    const message = {
      id,
      correlationId: id,
      fromAgent: client,
      toAgent: 'side-effect@wr',
      taskId,
      messageType: 'task' as const,
      payload: { capability: 'side-effect', payload: { logFile, seconds: 0 }, timeoutMs: 30_000 },
      priority: 5,
      attempt: 3,
    };
    const first = await bus.request(message, 30_000);
    expect(first.payload).toMatchObject({ ok: true, output: { attempt: 3 } });
    expect(starts(logFile)).toBe(1);

    // The same message delivered again.
    const second = await bus.request(message, 30_000);
    expect(second.payload).toEqual(first.payload);
    expect(second.attempt).toBe(3);
    expect(second.taskId).toBe(taskId);
    // Give a wrongly started second run time to show up in the log: it must not.
    await new Promise((r) => setTimeout(r, 1000));
    expect(starts(logFile)).toBe(1);

    // A new attempt of the same task is real work: it runs.
    const next = await bus.request(
      { ...message, id: randomUUID(), correlationId: undefined, attempt: 4 },
      30_000,
    );
    expect(next.payload).toMatchObject({ ok: true, output: { attempt: 4 } });
    expect(starts(logFile)).toBe(2);
    // So does a new dispatch of a finished attempt (another message: a manual retry).
    const retried = await bus.request(
      { ...message, id: randomUUID(), correlationId: undefined },
      30_000,
    );
    expect(retried.payload).toMatchObject({ ok: true, output: { attempt: 3 } });
    expect(starts(logFile)).toBe(3);
  });
});
