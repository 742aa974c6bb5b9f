import { Logger } from '@nestjs/common';
import { ConfigService } from '../../src/config/config.service';
import { type Env, loadConfig } from '../../src/config/load-config';
import { RedisService } from '../../src/redis/redis.service';
import { DistributedLockService } from '../../src/state/lock/distributed-lock.service';
import { StateSyncService } from '../../src/state/state-sync.service';
import { StateRepository } from '../../src/state/state.repository';
import { StateService } from '../../src/state/state.service';
import { createObjectStore } from '../../src/state/state.module';

export interface StateStack {
  state: StateService;
  locks: DistributedLockService;
  sync: StateSyncService;
  redis: RedisService;
  close(): Promise<void>;
}

/**
 * The State module's services wired by hand (what Nest would inject), for benchmarks: the same
 * code path as the REST handlers minus HTTP, without booting the other modules.
 */
export async function buildStateStack(env: Env): Promise<StateStack> {
  Logger.overrideLogger(['error']);
  const config = new ConfigService(loadConfig(env));
  const redis = new RedisService(config);
  await redis.onModuleInit();
  const repo = new StateRepository(redis);
  const locks = new DistributedLockService(redis, config);
  const sync = new StateSyncService(repo, redis, config, createObjectStore(config));
  const state = new StateService(repo, locks, sync, redis, config);
  return {
    state,
    locks,
    sync,
    redis,
    close: async () => {
      await locks.onApplicationShutdown();
      await sync.onApplicationShutdown();
      await redis.onApplicationShutdown();
    },
  };
}
