import Redis from 'ioredis';
import { ConfigService } from '../../../src/config/config.service';
import { type Env, loadConfig } from '../../../src/config/load-config';
import { AgentRegistryRepository } from '../../../src/discovery/agent-registry.repository';
import { DiscoveryService } from '../../../src/discovery/discovery.service';
import { EventsService } from '../../../src/events/events.service';
import type { SwitchyardEvent } from '../../../src/events/switchyard-event.type';
import { MetricsService } from '../../../src/observability/metrics.service';
import { RedisService } from '../../../src/redis/redis.service';
import { deletePrefix } from '../../support/redis-cleanup';
import { uniquePrefix } from '../../support/test-app';

export interface DiscoveryFixture {
  service: DiscoveryService;
  config: ConfigService;
  redis: RedisService;
  /** A plain connection for inspecting keys (no prefix applied). */
  raw: Redis;
  prefix: string;
  events: SwitchyardEvent[];
  close(): Promise<void>;
}

/** The real discovery service on the real Redis, with its own key prefix. */
export async function discoveryFixture(
  env: Env = {},
  prefix = uniquePrefix('disc'),
): Promise<DiscoveryFixture> {
  const config = new ConfigService(
    loadConfig({ REDIS_URL: process.env.REDIS_URL, ...env, REDIS_KEY_PREFIX: prefix }),
  );
  const redis = new RedisService(config);
  await redis.onModuleInit();
  const events = new EventsService();
  const seen: SwitchyardEvent[] = [];
  events.subscribe((e) => seen.push(e));
  const service = new DiscoveryService(
    new AgentRegistryRepository(redis),
    config,
    events,
    new MetricsService(),
  );
  const raw = new Redis(config.redis.url, { maxRetriesPerRequest: 1 });
  return {
    service,
    config,
    redis,
    raw,
    prefix,
    events: seen,
    close: async () => {
      raw.disconnect();
      await redis.onApplicationShutdown();
      await deletePrefix(prefix);
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
