import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { type BusOptions, busOptions } from '../../../src/bus/bus-options';
import { BusTopology } from '../../../src/bus/bus-topology';
import { MemoryMessageBus } from '../../../src/bus/memory.transport';
import type { MessageBus } from '../../../src/bus/message-bus';
import { RabbitMqMessageBus } from '../../../src/bus/rabbitmq.transport';
import { ConfigService } from '../../../src/config/config.service';
import { loadConfig } from '../../../src/config/load-config';
import { EventsService } from '../../../src/events/events.service';
import type { SwitchyardEvent } from '../../../src/events/switchyard-event.type';
import { MetricsService } from '../../../src/observability/metrics.service';
import { RedisService } from '../../../src/redis/redis.service';
import { BreakerRegistry } from '../../../src/resilience/breaker-registry.service';
import { BreakerSync } from '../../../src/resilience/breaker-sync.service';
import { deletePrefix } from '../../support/redis-cleanup';
import { uniquePrefix } from '../../support/test-app';

const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

async function eventually(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Instance {
  registry: BreakerRegistry;
  events: SwitchyardEvent[];
}

/** Removes what the RabbitMQ transport declared under a test namespace. */
async function deleteNamespace(namespace: string, instanceIds: string[]): Promise<void> {
  const t = new BusTopology(namespace);
  const conn = await amqp.connect(AMQP_URL);
  try {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    for (const q of [
      t.orchestratorQueue,
      t.parkingQueue,
      ...instanceIds.map((i) => t.responseQueue(i)),
    ]) {
      await ch.deleteQueue(q).catch(() => undefined);
    }
    for (const x of [
      t.tasksExchange,
      t.broadcastsExchange,
      t.responsesExchange,
      t.deadLetterExchange,
    ]) {
      await ch.deleteExchange(x).catch(() => undefined);
    }
    await ch.close().catch(() => undefined);
  } finally {
    await conn.close();
  }
}

describe.each([
  ['memory', (o: BusOptions): MessageBus => new MemoryMessageBus(o)],
  ['rabbitmq', (o: BusOptions): MessageBus => new RabbitMqMessageBus(o)],
] as const)('breaker state shared over the %s bus (integration)', (kind, makeBus) => {
  const namespace = `sytest-breaker-${randomBytes(3).toString('hex')}`;
  const buses: MessageBus[] = [];
  const ids: string[] = [];
  const instances: Instance[] = [];
  const prefixes: string[] = [];
  const redisServices: RedisService[] = [];
  let shared: MessageBus | undefined;

  /** One control-plane instance: its own bus connection (memory: one in-process broker). */
  async function instance(): Promise<Instance> {
    const instanceId = `cp-${randomBytes(3).toString('hex')}`;
    let bus: MessageBus;
    if (kind === 'memory') {
      shared ??= makeBus(busOptions({ namespace, instanceId }));
      bus = shared;
    } else {
      bus = makeBus(busOptions({ namespace, instanceId, amqpUrl: AMQP_URL }));
    }
    if (!buses.includes(bus)) {
      buses.push(bus);
      await bus.connect();
    }
    ids.push(instanceId);
    // Each instance has a Redis namespace of its own: only the bus carries the transitions.
    const prefix = uniquePrefix('breaker-bus');
    prefixes.push(prefix);
    const config = new ConfigService(
      loadConfig({
        REDIS_URL: process.env.REDIS_URL,
        REDIS_KEY_PREFIX: prefix,
        BREAKER_SYNC_INTERVAL_MS: '0',
      }),
    );
    const redis = new RedisService(config);
    await redis.onModuleInit();
    redisServices.push(redis);
    const eventsService = new EventsService();
    const events: SwitchyardEvent[] = [];
    eventsService.subscribe((e) => events.push(e));
    const registry = new BreakerRegistry(
      config,
      eventsService,
      new MetricsService(),
      new BreakerSync(config, bus, redis),
    );
    await registry.onApplicationBootstrap();
    const i = { registry, events };
    instances.push(i);
    return i;
  }

  afterAll(async () => {
    for (const i of instances) await i.registry.onModuleDestroy();
    for (const b of buses) await b.close();
    for (const r of redisServices) await r.onApplicationShutdown();
    for (const p of prefixes) await deletePrefix(p);
    if (kind === 'rabbitmq') await deleteNamespace(namespace, ids);
  });

  it('an agent that failed for one instance is avoided by the others, and a reset reaches all', async () => {
    const a = await instance();
    const b = await instance();
    const c = await instance();
    for (let i = 0; i < 5; i++) {
      await a.registry
        .fire('agent-x', () => Promise.reject(new Error('down')))
        .catch(() => undefined);
    }
    expect(a.registry.isOpen('agent-x')).toBe(true);
    await eventually(
      () => b.registry.isOpen('agent-x') && c.registry.isOpen('agent-x'),
      'peers to open',
    );
    expect(b.registry.canDispatch('agent-x')).toBe(false);
    expect(b.registry.snapshot('agent-x').nextAttemptAt).toBe(
      a.registry.snapshot('agent-x').nextAttemptAt,
    );
    // Only the instance that opened it announces the event (the live feed fans it out).
    expect(a.events.map((e) => e.type)).toEqual(['breaker.opened']);
    expect(b.events).toEqual([]);

    b.registry.reset('agent-x');
    await eventually(
      () => a.registry.state('agent-x') === 'closed' && c.registry.state('agent-x') === 'closed',
      'peers to close',
    );
    expect(a.registry.snapshot('agent-x').lastChangeSource).toBe(b.registry.instanceId);
  });
});
