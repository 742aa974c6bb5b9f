import type Redis from 'ioredis';
import { ConfigService } from '../../../src/config/config.service';
import { loadConfig } from '../../../src/config/load-config';
import { RedisService } from '../../../src/redis/redis.service';
import { RedisSentinelTopology } from '../../../bench/support/redis-sentinel-topology';
import { uniquePrefix } from '../../support/test-app';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * ioredis ends a Sentinel connection for good when its Sentinel connector rejects (the connection
 * was dropped - failoverDetector, reconnectOnError - while it was still asking the Sentinels for
 * the master). A test:ha run at load ~15 showed a worker answering every heartbeat with
 * "Connection is closed." for minutes. The connector's rejection is injected here once; the
 * connection must come back by itself, and one closed on purpose must stay closed.
 */
describe('a Sentinel connection that ioredis ended without being asked to (private Sentinels)', () => {
  let topo: RedisSentinelTopology | undefined;
  let redis: RedisService | undefined;

  beforeAll(async () => {
    topo = await RedisSentinelTopology.start({ replicas: 1, sentinels: 3 });
  }, 90_000);

  afterAll(async () => {
    await redis?.onApplicationShutdown();
    await topo?.stop();
  }, 30_000);

  it('connects again; a connection closed on purpose stays closed', async () => {
    const t = topo as RedisSentinelTopology;
    const config = new ConfigService(
      loadConfig({ ...t.env(), REDIS_KEY_PREFIX: uniquePrefix('rearm'), LOG_LEVEL: 'error' }),
    );
    redis = new RedisService(config);
    await redis.onModuleInit();
    const conn = redis.createConnection({ name: 'rearm-test' });
    await conn.ping();

    // The Sentinel connector rejects once, as when the connection is dropped mid-resolution.
    const connector = (conn as unknown as { connector: { connect: (...a: unknown[]) => unknown } })
      .connector;
    const real = connector.connect.bind(connector);
    let injected = 0;
    connector.connect = (...a: unknown[]) => {
      if (injected++ === 0) return Promise.reject(new Error('Connection is closed.'));
      return real(...a);
    };
    const ended = new Promise((r) => conn.once('end', r));
    conn.disconnect(true); // what failoverDetector / reconnectOnError do
    await ended;
    const deadline = Date.now() + 10_000;
    let pong: string | undefined;
    while (Date.now() < deadline && pong === undefined) {
      pong = await conn.ping().catch(() => undefined);
      if (pong === undefined) await sleep(100);
    }
    expect(pong).toBe('PONG');
    expect(injected).toBeGreaterThan(1);

    const other: Redis = redis.createConnection({ name: 'rearm-quit' });
    await other.ping();
    await other.quit();
    await sleep(500);
    expect(other.status).toBe('end');
  }, 60_000);
});
