import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { type Job, Queue, Worker } from 'bullmq';
import type { RedisService } from '../redis/redis.service';

/**
 * What a BullMQ job carries: which task, which READY generation of it, and its capability (so
 * the runner can pick an agent before it starts the task; absent on jobs the reconciler pushed).
 */
export interface TaskJobData {
  taskId: string;
  gen: number;
  cap?: string;
}

/** A READY task to be pushed as a job: [id, gen, priority 1..10, due ms, capability?]. */
export type ReadyEntry = [string, number, number, number, string?];

/**
 * BullMQ: lower number = served first; 0 would bypass the priority set. Priorities 10..1 map to
 * 2..20, and a re-dispatch after an infrastructure loss (priority + 0.5, see task-lib.lua
 * makeReady) to the odd number just before its priority: ahead of new work of the same priority,
 * behind anything more urgent.
 */
export const bullPriority = (priority: number): number => Math.round((11 - priority) * 2);

/** Approximate length BullMQ trims its `events` stream to. */
const BULL_EVENTS_MAX_LEN = 100;

export const jobIdFor = (taskId: string, gen: number): string => `${taskId}_${gen}`;

/**
 * The BullMQ adapter of the task queue: the only place that touches bullmq. BullMQ carries the
 * READY work (priorities, delays for retries, stalled-job recovery); the task records are ours.
 */
export class TaskJobsAdapter {
  private readonly logger = new Logger(TaskJobsAdapter.name);
  private queue?: Queue<TaskJobData>;
  private worker?: Worker<TaskJobData>;
  private puller?: Worker<TaskJobData>;
  private readonly pullToken = randomUUID();

  constructor(
    private readonly redis: RedisService,
    readonly queueName: string,
    readonly prefix: string,
    private readonly stalledIntervalMs: number,
    private readonly lockDurationMs = 30_000,
  ) {}

  private connection(name: string) {
    // BullMQ needs maxRetriesPerRequest null and no command timeout (its blocking reads wait).
    return this.redis.createConnection({
      name,
      maxRetriesPerRequest: null,
      commandTimeout: undefined,
    });
  }

  open(): void {
    if (this.queue) return;
    this.queue = new Queue<TaskJobData>(this.queueName, {
      connection: this.connection('switchyard-bullmq-queue'),
      prefix: this.prefix,
      // Nothing reads BullMQ's event stream (our events come from the scripts): keep it short
      // instead of BullMQ's 10,000 entries (~35 bytes a task at 20,000 tasks, more below).
      streams: { events: { maxLen: BULL_EVENTS_MAX_LEN } },
    });
    this.queue.on('error', (e: Error) => this.logger.warn(`bullmq queue: ${e.message}`));
  }

  async add(entries: ReadyEntry[]): Promise<void> {
    if (entries.length === 0) return;
    this.open();
    const now = Date.now();
    await this.queue!.addBulk(
      entries.map(([taskId, gen, priority, due, cap]) => ({
        name: 'task',
        data: cap ? { taskId, gen, cap } : { taskId, gen },
        opts: {
          jobId: jobIdFor(taskId, gen),
          priority: bullPriority(priority),
          delay: Math.max(0, due - now),
          removeOnComplete: true,
          removeOnFail: { count: 1000 },
        },
      })),
    );
  }

  /** Starts a worker calling `processor` for each job, `concurrency` at a time. */
  startWorker(processor: (data: TaskJobData) => Promise<void>, concurrency: number): void {
    if (this.worker) throw new Error('the task queue is already processing');
    this.worker = new Worker<TaskJobData>(
      this.queueName,
      async (job: Job<TaskJobData>) => processor(job.data),
      {
        connection: this.connection('switchyard-bullmq-worker'),
        prefix: this.prefix,
        concurrency,
        stalledInterval: this.stalledIntervalMs,
        lockDuration: this.lockDurationMs,
        maxStalledCount: 3,
      },
    );
    this.worker.on('error', (e: Error) => this.logger.warn(`bullmq worker: ${e.message}`));
  }

  async stopWorker(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    await w?.close();
  }

  get processing(): boolean {
    return this.worker !== undefined;
  }

  /**
   * Pull-style: takes the next job (highest priority, FIFO within), lets `take` claim it, and
   * acknowledges it. Returns undefined when no job is waiting.
   */
  async pull<T>(take: (data: TaskJobData) => Promise<T>): Promise<{ value: T } | undefined> {
    this.puller ??= new Worker<TaskJobData>(this.queueName, null, {
      connection: this.connection('switchyard-bullmq-puller'),
      prefix: this.prefix,
      autorun: false,
    });
    const job = (await this.puller.getNextJob(this.pullToken, { block: false })) as
      Job<TaskJobData> | undefined;
    if (!job) return undefined;
    const value = await take(job.data);
    await job.moveToCompleted(null, this.pullToken, false);
    return { value };
  }

  async counts(): Promise<Record<string, number>> {
    this.open();
    return this.queue!.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
  }

  /** Removes every BullMQ key of this queue (tests, benchmarks). */
  async obliterate(): Promise<void> {
    this.open();
    await this.queue!.obliterate({ force: true });
  }

  async close(): Promise<void> {
    await this.stopWorker();
    await this.puller?.close();
    this.puller = undefined;
    await this.queue?.close();
    this.queue = undefined;
  }
}
