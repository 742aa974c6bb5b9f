import * as amqp from 'amqplib';
import { randomBytes } from 'node:crypto';
import { BusTopology } from '../../src/bus/bus-topology';

/** A unique BUS_NAMESPACE per test, so tests sharing the broker never see each other's queues. */
export function uniqueNamespace(label = 't'): string {
  return `sytest.${label}.${randomBytes(4).toString('hex')}.`;
}

/**
 * Deletes the exchanges and queues a bus created in `namespace`: the fixed ones, the task and
 * response queues of `names` (agents and instance ids) and any broadcast queues of `instanceIds`.
 * Each delete runs on its own channel (a missing queue closes the channel with 404).
 */
export async function deleteBusObjects(
  url: string,
  namespace: string,
  names: string[],
  broadcastQueues: { instanceId: string; count: number }[] = [],
): Promise<void> {
  const t = new BusTopology(namespace);
  const conn = await amqp.connect(url);
  try {
    const queues = [
      t.orchestratorQueue,
      t.parkingQueue,
      ...names.flatMap((n) => [t.agentQueue(n), t.responseQueue(n)]),
      ...broadcastQueues.flatMap(({ instanceId, count }) =>
        Array.from({ length: count }, (_, i) => t.broadcastQueue(instanceId, i + 1)),
      ),
    ];
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    for (const q of queues) await ch.deleteQueue(q);
    for (const x of [
      t.tasksExchange,
      t.broadcastsExchange,
      t.responsesExchange,
      t.deadLetterExchange,
    ]) {
      await ch.deleteExchange(x);
    }
    await ch.close();
  } finally {
    await conn.close();
  }
}
