import { busOptions } from '../../../src/bus/bus-options';
import { MemoryMessageBus } from '../../../src/bus/memory.transport';
import { ConfigService } from '../../../src/config/config.service';
import { type Env, loadConfig } from '../../../src/config/load-config';
import { EventsService } from '../../../src/events/events.service';
import { MetricsService } from '../../../src/observability/metrics.service';
import { RedisService } from '../../../src/redis/redis.service';
import { BreakerRegistry } from '../../../src/resilience/breaker-registry.service';
import { BreakerSync } from '../../../src/resilience/breaker-sync.service';
import { deletePrefix } from '../../support/redis-cleanup';
import { uniquePrefix } from '../../support/test-app';

/**
 * Two control-plane instances whose buses do not reach each other: breaker state travels through Redis only
 * (the `breaker:{agentId}` record and its index), read at start and every sync interval.
 */
describe('breaker state shared through Redis (integration)', () => {
  const prefix = uniquePrefix('breaker');
  const started: { registry: BreakerRegistry; redis: RedisService }[] = [];

  async function instance(
    env: Env = {},
  ): Promise<{ registry: BreakerRegistry; redis: RedisService }> {
    const config = new ConfigService(
      loadConfig({
        REDIS_URL: process.env.REDIS_URL,
        REDIS_KEY_PREFIX: prefix,
        BREAKER_SYNC_INTERVAL_MS: '0',
        ...env,
      }),
    );
    const redis = new RedisService(config);
    await redis.onModuleInit();
    // A bus of its own per instance (in memory): only Redis connects the instances.
    const bus = new MemoryMessageBus(busOptions({ instanceId: `redis-only-${started.length}` }));
    await bus.connect();
    const registry = new BreakerRegistry(
      config,
      new EventsService(),
      new MetricsService(),
      new BreakerSync(config, bus, redis),
    );
    await registry.onApplicationBootstrap();
    const pair = { registry, redis };
    started.push(pair);
    return pair;
  }

  const fail = (registry: BreakerRegistry, agentId: string) =>
    registry.fire(agentId, () => Promise.reject(new Error('agent down'))).catch(() => undefined);

  afterEach(async () => {
    for (const { registry, redis } of started.splice(0)) {
      await registry.onModuleDestroy();
      await redis.onApplicationShutdown();
    }
    await deletePrefix(prefix);
  });

  it('stores each transition with a TTL of the open time, and a peer applies it with the remaining time', async () => {
    const a = await instance();
    const b = await instance();
    for (let i = 0; i < 5; i++) await fail(a.registry, 'agent-1');
    await a.registry.whenIdle();

    const key = a.redis.key('breaker', 'agent-1');
    const stored = JSON.parse((await a.redis.client.get(key)) ?? '{}') as Record<string, unknown>;
    expect(stored).toMatchObject({
      kind: 'breaker',
      agentId: 'agent-1',
      state: 'open',
      failures: 5,
      source: a.registry.instanceId,
    });
    const ttl = await a.redis.client.pttl(key);
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);

    expect(b.registry.canDispatch('agent-1')).toBe(true);
    expect(await b.registry.syncFromRedis()).toBe(1);
    expect(b.registry.state('agent-1')).toBe('open');
    expect(b.registry.canDispatch('agent-1')).toBe(false);
    // Same deadline as the instance that opened it, not a fresh 60 s.
    expect(b.registry.snapshot('agent-1').nextAttemptAt).toBe(
      a.registry.snapshot('agent-1').nextAttemptAt,
    );
    expect(b.registry.snapshot('agent-1').lastChangeSource).toBe(a.registry.instanceId);
  });

  it('a new instance starts with the open breakers, and learns of a reset', async () => {
    const a = await instance();
    for (let i = 0; i < 5; i++) await fail(a.registry, 'agent-2');
    await a.registry.whenIdle();

    const late = await instance(); // syncs in onApplicationBootstrap
    expect(late.registry.isOpen('agent-2')).toBe(true);

    a.registry.reset('agent-2');
    await a.registry.whenIdle();
    await late.registry.syncFromRedis();
    expect(late.registry.state('agent-2')).toBe('closed');
  });

  it('keeps the newer transition when an older one is written after it', async () => {
    const a = await instance();
    const b = await instance();
    for (let i = 0; i < 5; i++) await fail(a.registry, 'agent-4');
    const openedAt = Date.parse(a.registry.snapshot('agent-4').openedAt ?? '');
    await a.registry.whenIdle();
    // b resets it later; then a's (older) open record arrives again, e.g. a delayed write.
    await new Promise((r) => setTimeout(r, 2));
    b.registry.reset('agent-4');
    await b.registry.whenIdle();
    const key = a.redis.key('breaker', 'agent-4');
    const newer = JSON.parse((await a.redis.client.get(key)) ?? '{}') as {
      state: string;
      at: number;
    };
    expect(newer.state).toBe('closed');
    expect(newer.at).toBeGreaterThan(openedAt);

    const stale = JSON.stringify({
      ...newer,
      state: 'open',
      at: newer.at - 1,
      openUntil: newer.at + 60_000,
    });
    const saveBreaker = (
      a.redis.client as unknown as {
        saveBreaker(...args: string[]): Promise<number>;
      }
    ).saveBreaker.bind(a.redis.client);
    const args = [
      key,
      a.redis.key('breakers'),
      stale,
      String(newer.at - 1),
      '60000',
      String(newer.at + 60_000),
      'agent-4',
    ];
    expect(await saveBreaker(...args)).toBe(0);
    expect(JSON.parse((await a.redis.client.get(key)) ?? '{}')).toMatchObject({ state: 'closed' });
  });

  it('re-reads Redis every BREAKER_SYNC_INTERVAL_MS', async () => {
    const a = await instance();
    const b = await instance({ BREAKER_SYNC_INTERVAL_MS: '50' });
    for (let i = 0; i < 5; i++) await fail(a.registry, 'agent-3');
    await a.registry.whenIdle();
    const deadline = Date.now() + 5000;
    while (!b.registry.isOpen('agent-3') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(b.registry.isOpen('agent-3')).toBe(true);
  });
});
