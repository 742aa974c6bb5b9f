import { Test } from '@nestjs/testing';
import { loadConfig, type Env } from '../../../src/config/load-config';
import { ConfigModule } from '../../../src/config/config.module';
import { EventsModule } from '../../../src/events/events.module';
import { EventsService } from '../../../src/events/events.service';
import type { SwitchyardEvent } from '../../../src/events/switchyard-event.type';
import { MetricsService } from '../../../src/observability/metrics.service';
import { RedisModule } from '../../../src/redis/redis.module';
import { ReadinessRegistry } from '../../../src/observability/health/readiness.registry';
import { TaskQueueService } from '../../../src/queue/task-queue.service';
import { QUEUE_PROVIDERS } from '../../../src/queue/queue.module';
import { TaskArchiveService } from '../../../src/state/task-archive.service';
import { OBJECT_STORE } from '../../../src/state/object-store/object-store';
import { LocalDirObjectStore } from '../../../src/state/object-store/local-dir.object-store';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deletePrefix } from '../../support/redis-cleanup';
import { uniquePrefix } from '../../support/test-app';
import { Global, Module } from '@nestjs/common';

@Global()
@Module({
  providers: [MetricsService, ReadinessRegistry],
  exports: [MetricsService, ReadinessRegistry],
})
class TestObservabilityModule {}

export interface QueueHarness {
  queue: TaskQueueService;
  events: SwitchyardEvent[];
  prefix: string;
  /** A provider of the queue module (the real instance, e.g. to spy on a call through it). */
  get<T>(type: abstract new (...args: never[]) => T): T;
  close(): Promise<void>;
}

/** A real TaskQueueService on the real Redis, with its own key prefix (and BullMQ prefix). */
export async function startQueue(
  env: Env = {},
  prefix = uniquePrefix('queue'),
): Promise<QueueHarness> {
  const values = loadConfig({
    REDIS_URL: process.env.REDIS_URL,
    LOG_LEVEL: 'warn',
    QUEUE_RECONCILE_INTERVAL_MS: '0',
    DEADLOCK_CHECK_INTERVAL_MS: '0',
    ...env,
    REDIS_KEY_PREFIX: prefix,
  });
  const archiveDir = mkdtempSync(join(tmpdir(), 'sy-queue-archive-'));
  const moduleRef = await Test.createTestingModule({
    imports: [ConfigModule.forRoot({ values }), EventsModule, TestObservabilityModule, RedisModule],
    providers: [
      ...QUEUE_PROVIDERS,
      TaskArchiveService,
      // The archive of finished tasks in a directory of its own (the real local-dir store).
      { provide: OBJECT_STORE, useValue: new LocalDirObjectStore(archiveDir) },
    ],
  }).compile();
  const app = await moduleRef.init();
  const queue = app.get(TaskQueueService);
  const events: SwitchyardEvent[] = [];
  app.get(EventsService).subscribe((e) => events.push(e));
  return {
    queue,
    events,
    prefix,
    get: (type) => app.get(type),
    close: async () => {
      await queue.stopProcessing();
      await queue.jobs.obliterate().catch(() => undefined);
      await app.close();
      await deletePrefix(prefix);
      rmSync(archiveDir, { recursive: true, force: true });
    },
  };
}

export async function eventually(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
