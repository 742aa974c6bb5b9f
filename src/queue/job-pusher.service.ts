import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { ConfigService } from '../config/config.service';
import { RedisService } from '../redis/redis.service';
import { type ReadyEntry, TaskJobsAdapter } from './task-jobs.adapter';

/**
 * Pushes the BullMQ jobs of tasks that became READY, batching concurrent callers into one
 * `addBulk` per event-loop turn. The outbox entry a script writes with each READY task covers a
 * crash before the push (the reconciler pushes it later).
 */
@Injectable()
export class JobPusher implements OnModuleDestroy {
  private readonly logger = new Logger(JobPusher.name);
  readonly jobs: TaskJobsAdapter;
  private pending: {
    entries: ReadyEntry[];
    waiters: { resolve: () => void; reject: (e: unknown) => void }[];
  } | null = null;

  constructor(config: ConfigService, redis: RedisService) {
    this.jobs = new TaskJobsAdapter(
      redis,
      config.queue.name,
      redis.key('bull'),
      config.queue.stalledIntervalMs,
      config.queue.lockDurationMs,
    );
  }

  async onModuleDestroy(): Promise<void> {
    await this.jobs.close().catch((e: Error) => this.logger.warn(`closing bullmq: ${e.message}`));
  }

  /** Resolves when the jobs exist (rejects if the push failed: the outbox keeps them). */
  push(entries: ReadyEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      if (!this.pending) {
        this.pending = { entries: [], waiters: [] };
        setImmediate(() => void this.flush());
      }
      this.pending.entries.push(...entries);
      this.pending.waiters.push({ resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = null;
    if (!batch) return;
    try {
      // Outbox entries stay until the job starts (start-3.lua removes them): one round trip
      // less per batch, and a crash right after this call still leaves a trace.
      await this.jobs.add(batch.entries);
      for (const w of batch.waiters) w.resolve();
    } catch (e) {
      this.logger.warn(`pushing ${batch.entries.length} job(s) failed: ${(e as Error).message}`);
      for (const w of batch.waiters) w.reject(e);
    }
  }
}
