import { randomBytes } from 'node:crypto';
import { Global, Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Queue, Worker } from 'bullmq';
import Redis from 'ioredis';
import { ConfigModule } from '../../src/config/config.module';
import { loadConfig } from '../../src/config/load-config';
import { EventsModule } from '../../src/events/events.module';
import { ReadinessRegistry } from '../../src/observability/health/readiness.registry';
import { MetricsService } from '../../src/observability/metrics.service';
import type { CreateTaskInput } from '../../src/queue/task.schemas';
import { TaskQueueService } from '../../src/queue/task-queue.service';
import { QUEUE_PROVIDERS } from '../../src/queue/queue.module';
import { TaskArchiveService } from '../../src/state/task-archive.service';
import { OBJECT_STORE } from '../../src/state/object-store/object-store';
import { LocalDirObjectStore } from '../../src/state/object-store/local-dir.object-store';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisModule } from '../../src/redis/redis.module';
import {
  type BenchOptions,
  type BenchReport,
  LatencyRecorder,
  medianOf,
  nowMs,
  progress,
  ratios,
  round,
  sleep,
} from '../harness';

@Global()
@Module({
  providers: [MetricsService, ReadinessRegistry],
  exports: [MetricsService, ReadinessRegistry],
})
class BenchObservabilityModule {}

const CONCURRENCY = 50;
const LATENCY_RATE_PER_S = 500;
const LATENCY_COUNT = 1000;

function prefixFor(label: string): string {
  return `sybench:${label}:${randomBytes(4).toString('hex')}:`;
}

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/** BullMQ's own per-queue keys; anything else under `bull:<queue>:` is a job (`{job}`). */
const BULL_KEYS = new Set([
  'wait',
  'paused',
  'meta',
  'events',
  'id',
  'prioritized',
  'delayed',
  'active',
  'completed',
  'failed',
  'stalled',
  'stalled-check',
  'marker',
  'pc',
  'limiter',
  'repeat',
  'de',
  'metrics',
]);

/** The class of a key under the bench prefix: ids replaced by `{id}` / `{job}` / `{key}`. */
export function keyClass(key: string): string {
  const bull = /^bull:([^:]+):([^:]+)(:.*)?$/.exec(key);
  if (bull) {
    const [, q, name, rest] = bull;
    return BULL_KEYS.has(name) ? `bull:${q}:${name}${rest ?? ''}` : `bull:${q}:{job}${rest ?? ''}`;
  }
  return key
    .replace(/^(q:[^:]+:)(t|w):[^:]+(:[a-z]+)?$/, '$1$2:{id}$3')
    .replace(/^(q:[^:]+:)(w?idem):.*$/, '$1$2:{key}');
}

interface KeyClassBytes {
  keys: number;
  bytes: number;
  /** OBJECT ENCODING → number of keys. */
  encodings: Record<string, number>;
}

/** MEMORY USAGE summed over every key under `prefix`, in total and per key class. */
async function bytesUnder(
  redis: Redis,
  prefix: string,
): Promise<{ total: number; byClass: Map<string, KeyClassBytes> }> {
  let cursor = '0';
  let total = 0;
  const byClass = new Map<string, KeyClassBytes>();
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length > 0) {
      const p = redis.pipeline();
      for (const k of keys) p.memory('USAGE', k).object('ENCODING', k);
      const rows = (await p.exec()) ?? [];
      keys.forEach((k, i) => {
        const bytes = Number(rows[2 * i]?.[1] ?? 0);
        const enc = rows[2 * i + 1]?.[1];
        const encoding = typeof enc === 'string' ? enc : 'gone';
        total += bytes;
        const cls = keyClass(k.slice(prefix.length));
        const c = byClass.get(cls) ?? { keys: 0, bytes: 0, encodings: {} };
        c.keys++;
        c.bytes += bytes;
        c.encodings[encoding] = (c.encodings[encoding] ?? 0) + 1;
        byClass.set(cls, c);
      });
    }
  } while (cursor !== '0');
  return { total, byClass };
}

/** `class: keys, bytes/task, encodings`, largest first, for the conditions of the report. */
function describeBytes(byClass: Map<string, KeyClassBytes>, tasks: number): string[] {
  return [...byClass.entries()]
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .map(
      ([cls, c]) =>
        `${cls}: ${c.keys} keys, ${round(c.bytes / tasks, 1)} B/task (${Object.entries(c.encodings)
          .map(([e, n]) => `${e} ${n}`)
          .join(', ')})`,
    );
}

async function startQueueApp(
  redisUrl: string,
  prefix: string,
): Promise<{ ctx: INestApplicationContext; queue: TaskQueueService }> {
  const values = loadConfig({
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    QUEUE_RECONCILE_INTERVAL_MS: '0',
    DEADLOCK_CHECK_INTERVAL_MS: '0',
    REDIS_COMMAND_TIMEOUT_MS: '30000',
    TASK_RETENTION_SWEEP_MS: '0',
  });
  @Module({
    imports: [
      ConfigModule.forRoot({ values }),
      EventsModule,
      BenchObservabilityModule,
      RedisModule,
    ],
    providers: [
      ...QUEUE_PROVIDERS,
      TaskArchiveService,
      // Retention is off here (TASK_RETENTION_SWEEP_MS=0): the archive is never written.
      {
        provide: OBJECT_STORE,
        useValue: new LocalDirObjectStore(
          join(tmpdir(), `sybench-${prefix.replace(/[^a-z0-9]/gi, '')}`),
        ),
      },
    ],
  })
  class BenchQueueModule {}
  const ctx = await NestFactory.createApplicationContext(BenchQueueModule, {
    logger: ['warn', 'error'],
  });
  return { ctx, queue: ctx.get(TaskQueueService) };
}

/** A random DAG: ~5% roots, the rest depend on 1-3 recent tasks (fan-in), recent tasks get many dependents (fan-out). */
function randomDag(size: number, seed: number): CreateTaskInput[] {
  let s = seed >>> 0;
  const rnd = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const tasks: CreateTaskInput[] = [];
  for (let i = 0; i < size; i++) {
    const deps = new Set<string>();
    if (i > 0 && rnd() > 0.05) {
      const n = 1 + Math.floor(rnd() * 3);
      for (let j = 0; j < n; j++)
        deps.add(`t${Math.max(0, i - 1 - Math.floor(rnd() * Math.min(i, 500)))}`);
    }
    tasks.push({
      id: `t${i}`,
      capability: 'noop',
      payload: { i },
      priority: 1 + Math.floor(rnd() * 10),
      dependsOn: [...deps],
    });
  }
  return tasks;
}

async function oursRep(
  options: BenchOptions,
  size: number,
  rep: number,
  bytesByKey: string[][],
): Promise<Record<string, number>> {
  const prefix = prefixFor('queue');
  const { ctx, queue } = await startQueueApp(options.redisUrl, prefix);
  const admin = new Redis(options.redisUrl);
  try {
    // 1. DAG throughput (closed loop: the whole DAG is submitted, then executed).
    const dag = randomDag(size, 1234 + rep);
    const t0 = nowMs();
    await queue.enqueueMany(dag, 1000);
    const enqueueS = (nowMs() - t0) / 1000;
    progress(`ours: enqueued ${size} tasks in ${round(enqueueS, 2)} s`);
    const latencies = new LatencyRecorder();
    const submittedAt = new Map<string, number>();
    let done = 0;
    await queue.startProcessing(
      async (task) => {
        const at = submittedAt.get(task.id);
        if (at !== undefined) latencies.recordMs(nowMs() - at);
        done++;
        return { kind: 'completed', result: null };
      },
      { concurrency: CONCURRENCY },
    );
    const t1 = nowMs();
    for (;;) {
      const c = await queue.counts();
      if (c.completed >= size) break;
      if (nowMs() - t1 > 170_000) throw new Error(`DAG did not complete: ${JSON.stringify(c)}`);
      await sleep(50);
    }
    const runS = (nowMs() - t1) / 1000;
    progress(`ours: ${size} DAG tasks completed in ${round(runS, 2)} s (${done} handler calls)`);
    const bytes = await bytesUnder(admin, prefix);
    const described = describeBytes(bytes.byClass, size);
    bytesByKey.push(described);
    for (const line of described) progress(`ours: ${line}`);

    // 2. Dequeue latency, open loop: independent tasks submitted at a fixed rate.
    const interval = 1000 / LATENCY_RATE_PER_S;
    const start = nowMs();
    const submits: Promise<unknown>[] = [];
    for (let i = 0; i < LATENCY_COUNT; i++) {
      const due = start + i * interval;
      const wait = due - nowMs();
      if (wait > 1) await sleep(wait);
      const id = `lat${i}`;
      submittedAt.set(id, nowMs());
      submits.push(queue.enqueue({ id, capability: 'noop' }));
    }
    await Promise.all(submits);
    while (latencies.count < LATENCY_COUNT) await sleep(20);
    await queue.stopProcessing();

    // 3. Deadlock detection: 10,000 BLOCKED tasks, one 50-task cycle among them.
    const blocked: CreateTaskInput[] = [];
    for (let i = 0; i < 9950; i++) {
      blocked.push({
        id: `b${i}`,
        capability: 'noop',
        dependsOn: [i % 100 === 0 ? `missing${i}` : `b${i - 1}`],
      });
    }
    for (let i = 0; i < 50; i++)
      blocked.push({ id: `cyc${i}`, capability: 'noop', dependsOn: [`cyc${(i + 1) % 50}`] });
    await queue.enqueueMany(blocked, 1000);
    const detect: number[] = [];
    for (let i = 0; i < 5; i++) {
      const d0 = nowMs();
      const found = await queue.detectDeadlocks();
      detect.push(nowMs() - d0);
      if (found.cycles.length !== 1 || found.cycles[0].taskIds.length !== 50) {
        throw new Error(
          `expected one 50-task cycle, found ${JSON.stringify(found.cycles.map((c) => c.taskIds.length))}`,
        );
      }
    }
    detect.sort((a, b) => a - b);
    return {
      tasks_per_s: round(size / runS, 1),
      enqueue_per_s: round(size / enqueueS, 1),
      dequeue_p50_ms: latencies.percentileMs(50),
      dequeue_p99_ms: latencies.percentileMs(99),
      deadlock_detect_ms: round(detect[2], 2),
      redis_bytes_per_task: round(bytes.total / size, 1),
      total_s: round(enqueueS + runS, 2),
    };
  } finally {
    await queue.stopProcessing().catch(() => undefined);
    await queue.jobs.obliterate().catch(() => undefined);
    await ctx.close();
    await deleteKeys(admin, prefix);
    admin.disconnect();
  }
}

async function baselineRep(options: BenchOptions, size: number): Promise<Record<string, number>> {
  const prefix = prefixFor('bullraw');
  const connection = () => new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('raw', { connection: connection(), prefix: prefix.slice(0, -1) });
  const admin = new Redis(options.redisUrl);
  try {
    for (let i = 0; i < size; i += 1000) {
      await queue.addBulk(
        Array.from({ length: Math.min(1000, size - i) }, (_, j) => ({
          name: 'noop',
          data: { i: i + j },
          opts: { priority: 1 + ((i + j) % 10), removeOnComplete: true },
        })),
      );
    }
    let done = 0;
    const submittedAt = new Map<number, number>();
    const latencies = new LatencyRecorder();
    const t1 = nowMs();
    const worker = new Worker(
      'raw',
      async (job) => {
        const at = submittedAt.get((job.data as { lat?: number }).lat ?? -1);
        if (at !== undefined) latencies.recordMs(nowMs() - at);
        done++;
      },
      { connection: connection(), prefix: prefix.slice(0, -1), concurrency: CONCURRENCY },
    );
    while (done < size) await sleep(20);
    const runS = (nowMs() - t1) / 1000;
    progress(`baseline: raw BullMQ ran ${size} no-op jobs in ${round(runS, 2)} s`);
    const interval = 1000 / LATENCY_RATE_PER_S;
    const start = nowMs();
    const adds: Promise<unknown>[] = [];
    for (let i = 0; i < LATENCY_COUNT; i++) {
      const wait = start + i * interval - nowMs();
      if (wait > 1) await sleep(wait);
      submittedAt.set(i, nowMs());
      adds.push(queue.add('lat', { lat: i }, { priority: 5, removeOnComplete: true }));
    }
    await Promise.all(adds);
    while (latencies.count < LATENCY_COUNT) await sleep(20);
    await worker.close();
    return {
      tasks_per_s: round(size / runS, 1),
      dequeue_p50_ms: latencies.percentileMs(50),
      dequeue_p99_ms: latencies.percentileMs(99),
    };
  } finally {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    await deleteKeys(admin, prefix);
    admin.disconnect();
  }
}

/** `npm run bench -- queue [--size N] [--reps R]`: DAG execution vs raw BullMQ no-op jobs. */
export async function queueScenario(options: BenchOptions): Promise<BenchReport> {
  const size = options.size ?? 20_000;
  const reps = size >= 100_000 ? Math.min(options.reps, 1) : options.reps;
  const ours: Record<string, number>[] = [];
  const base: Record<string, number>[] = [];
  const bytesByKey: string[][] = [];
  for (let rep = 0; rep < reps; rep++) {
    progress(`rep ${rep + 1}/${reps}, size ${size}`);
    base.push(await baselineRep(options, size));
    ours.push(await oursRep(options, size, rep, bytesByKey));
  }
  const results = medianOf(ours);
  const baseline = medianOf(base);
  const ratio = ratios(results, baseline, ['tasks_per_s', 'dequeue_p50_ms', 'dequeue_p99_ms']);
  return {
    scenario: 'queue',
    size,
    reps,
    results,
    baseline,
    ratio,
    goals: {
      'tasks_per_s_ratio>=0.25': (ratio.tasks_per_s ?? 0) >= 0.25,
      [size >= 100_000 ? 'total_s_100k<=60' : 'total_s_100k_projected<=60']:
        (results.total_s ?? Infinity) * (100_000 / size) <= 60,
      'deadlock_detect_ms<=100': (results.deadlock_detect_ms ?? Infinity) <= 100,
    },
    conditions: {
      concurrency: CONCURRENCY,
      dag: '~5% roots, others depend on 1-3 of the previous 500 tasks; random priorities 1-10',
      handler: 'in-process no-op (TaskQueueService.startProcessing)',
      baseline: 'bare BullMQ addBulk + no-op Worker, same concurrency and priorities',
      latency: `open loop, ${LATENCY_RATE_PER_S}/s, ${LATENCY_COUNT} independent tasks, submit → handler start`,
      deadlock: '10,000 BLOCKED tasks (chains hanging on missing tasks) + one 50-task cycle',
      redis_bytes:
        'MEMORY USAGE summed over every key under the prefix (task records, indexes, BullMQ) once the DAG completed, default retention (7 days: nothing removed yet)',
      redis_bytes_by_key: bytesByKey.at(-1),
    },
  };
}
