/**
 * A nacked task or reply is retried on a NEW publisher channel. After a RabbitMQ node is killed, a
 * channel can keep nacking every publish to a quorum queue whose leader died with the node (seen
 * in `npm run test:ha`: a worker's replies to one control plane were nacked for minutes, so their
 * tasks sat RUNNING until the task timeout, attempt after attempt). Here the nack comes from a
 * full `reject-publish` queue on the shared broker: what is tested is that the publisher retires
 * the channel that nacked (at most once a second), that the next one works, and that broadcasts
 * (a fanout may reach a dead node's queue, which no channel fixes) never churn the channel.
 */
import * as amqp from 'amqplib';
import { randomUUID } from 'node:crypto';
import type { AgentMessage } from '../../../src/bus/agent-message.schema';
import { busOptions } from '../../../src/bus/bus-options';
import type { AmqpConnectionManager } from '../../../src/bus/rabbitmq/amqp-connection.manager';
import { RabbitMqMessageBus } from '../../../src/bus/rabbitmq.transport';
import { deleteBusObjects, uniqueNamespace } from '../../support/amqp-cleanup';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function request(replyTo: string): AgentMessage {
  const id = randomUUID();
  return {
    id,
    fromAgent: 'orchestrator',
    toAgent: 'nack-agent',
    messageType: 'task',
    payload: {},
    correlationId: id,
    timestamp: new Date().toISOString(),
    priority: 5,
    attempt: 0,
    replyTo,
  };
}

describe('RabbitMqMessageBus: a nacked publish is retried on a new publisher channel', () => {
  let namespace: string;
  let bus: RabbitMqMessageBus;
  let raw: amqp.ChannelModel;
  const publisher = () =>
    (bus as unknown as { connection: AmqpConnectionManager }).connection.readyPublisher;

  beforeEach(async () => {
    namespace = uniqueNamespace('nack');
    bus = new RabbitMqMessageBus(
      busOptions({
        amqpUrl: AMQP_URL,
        namespace,
        instanceId: 'nack-spec',
        queueType: 'classic',
        publishTimeoutMs: 2500,
      }),
    );
    await bus.connect(10_000);
    raw = await amqp.connect(AMQP_URL);
  });

  afterEach(async () => {
    await bus.close();
    const ch = await raw.createChannel();
    await ch.deleteQueue(`${namespace}full`).catch(() => undefined);
    await raw.close().catch(() => undefined);
    await deleteBusObjects(AMQP_URL, namespace, ['nack-agent', 'nack-spec']);
  });

  /** A queue that nacks every message (full, reject-publish), bound as reply queue `full`. */
  async function nackingReplyQueue(): Promise<string> {
    const ch = await raw.createChannel();
    const queue = `${namespace}full`;
    await ch.assertQueue(queue, {
      durable: true,
      arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' },
    });
    await ch.bindQueue(queue, `${namespace}agent.responses`, 'full.response');
    await ch.close();
    return 'full.response';
  }

  it('retires the channel that nacked a reply (at most once a second) and publishes on the next', async () => {
    const key = await nackingReplyQueue();
    const first = publisher();
    expect(first).toBeDefined();
    const seen = new Set([first]);
    const watch = setInterval(() => seen.add(publisher()), 10);
    const t0 = Date.now();
    await expect(
      bus.sendResponse(request(key), {
        fromAgent: 'nack-agent',
        messageType: 'response',
        payload: { ok: true },
      }),
    ).rejects.toThrow(/message nacked/);
    const seconds = (Date.now() - t0) / 1000;
    clearInterval(watch);
    seen.delete(undefined);
    const next = publisher();
    expect(next).toBeDefined();
    expect(next).not.toBe(first);
    // Rate-limited: about one new channel per second of retries, not one per retry (50-500 ms).
    expect(seen.size).toBeGreaterThanOrEqual(2);
    expect(seen.size).toBeLessThanOrEqual(Math.ceil(seconds) + 2);
    // A reply to a queue that takes it goes through on the new channel.
    await bus.sendResponse(request('nack-spec.response'), {
      fromAgent: 'nack-agent',
      messageType: 'response',
      payload: { ok: true },
    });
    expect(seconds).toBeLessThan(5);
  });

  it('keeps the channel when a broadcast is nacked (no channel can fix a dead fanout target)', async () => {
    const ch = await raw.createChannel();
    const queue = `${namespace}full`;
    await ch.assertQueue(queue, {
      durable: true,
      arguments: { 'x-max-length': 0, 'x-overflow': 'reject-publish' },
    });
    await ch.bindQueue(queue, `${namespace}agent.broadcasts`, '');
    await ch.close();
    const first = publisher();
    await expect(
      bus.broadcastEvent({
        fromAgent: 'orchestrator',
        toAgent: 'all',
        messageType: 'event',
        payload: {},
      }),
    ).rejects.toThrow(/message nacked/);
    await sleep(100);
    expect(publisher()).toBe(first);
  });
});
