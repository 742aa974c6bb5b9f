#!/usr/bin/env node
// Deletes what a scripts/test-container.sh run left on the shared Redis and RabbitMQ: every key
// under its REDIS_KEY_PREFIX (SCAN + UNLINK, never FLUSHALL) and the exchanges/queues of its
// BUS_NAMESPACE. Uses the compiled app (dist/) for the topology's names.
// Usage: node scripts/container-test-cleanup.js PREFIX NAMESPACE NAME...  (agent/instance names)
'use strict';
const { join } = require('node:path');
const amqp = require('amqplib');

const root = join(__dirname, '..');
const { deleteKeys } = require(join(root, 'dist', 'bench', 'support', 'redis-keys'));
const { BusTopology } = require(join(root, 'dist', 'src', 'bus', 'bus-topology'));

async function main() {
  const [prefix, namespace, ...names] = process.argv.slice(2);
  if (!prefix || !namespace || !prefix.startsWith('sytest:')) {
    throw new Error('usage: container-test-cleanup.js sytest:PREFIX NAMESPACE NAME...');
  }
  await deleteKeys(process.env.REDIS_URL || 'redis://127.0.0.1:6379', prefix);
  const t = new BusTopology(namespace);
  const conn = await amqp.connect(process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672');
  try {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    const queues = [
      t.orchestratorQueue,
      t.parkingQueue,
      ...names.flatMap((n) => [t.agentQueue(n), t.responseQueue(n)]),
      ...names.flatMap((n) => [1, 2, 3, 4].map((i) => t.broadcastQueue(n, i))),
    ];
    for (const q of queues) await ch.deleteQueue(q);
    for (const x of [
      t.tasksExchange,
      t.broadcastsExchange,
      t.responsesExchange,
      t.deadLetterExchange,
    ])
      await ch.deleteExchange(x);
    await ch.close().catch(() => undefined);
  } finally {
    await conn.close().catch(() => undefined);
  }
}

main().catch((e) => {
  process.stderr.write(`container-test-cleanup: ${e.message}\n`);
  process.exit(1);
});
