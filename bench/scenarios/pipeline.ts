import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import Redis from 'ioredis';
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
import { SwitchyardStack } from '../support/switchyard-processes';
import { deleteKeys } from '../support/redis-keys';

const AGENTS = join(__dirname, '..', '..', '..', 'bench', 'agents');
const CAPABILITY = 'bench-noop';
const epochMs = (): number => performance.timeOrigin + performance.now();

/** Submits `count` tasks through POST /v1/tasks with `concurrency` clients; returns their ids. */
async function submitClosedLoop(
  stack: SwitchyardStack,
  count: number,
  concurrency: number,
): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        const res = await stack.api('POST', '/v1/tasks', {
          capability: CAPABILITY,
          payload: { n: next },
        });
        if (!res.ok) throw new Error(`submit failed: ${res.status} ${await res.text()}`);
        ids.push(((await res.json()) as { id: string }).id);
      }
    }),
  );
  return ids;
}

async function completedCount(stack: SwitchyardStack): Promise<number> {
  const res = await stack.api('GET', '/v1/queue');
  const body = (await res.json()) as { completed?: number; counts?: { completed?: number } };
  return body.completed ?? body.counts?.completed ?? 0;
}

async function waitCompleted(
  stack: SwitchyardStack,
  target: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await completedCount(stack)) < target) {
    if (Date.now() > deadline)
      throw new Error(`only ${await completedCount(stack)}/${target} tasks completed in time`);
    await sleep(20);
  }
}

/** Reads the `stamp` results (executor start times) of the given tasks. */
async function startTimes(stack: SwitchyardStack, ids: Set<string>): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let cursor: string | undefined;
  do {
    const q = `/v1/tasks?capability=${CAPABILITY}&status=COMPLETED&limit=1000${cursor ? `&cursor=${cursor}` : ''}`;
    const page = (await (await stack.api('GET', q)).json()) as {
      items: { id: string; result?: { startedAt?: number } }[];
      nextCursor: string | null;
    };
    for (const t of page.items)
      if (ids.has(t.id) && t.result?.startedAt) out.set(t.id, t.result.startedAt);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return out;
}

async function oursRun(stack: SwitchyardStack, size: number, rate: number, latencySeconds: number) {
  // Throughput: closed loop, `size` tasks through the whole path.
  const before = await completedCount(stack);
  const t0 = nowMs();
  const ids = await submitClosedLoop(stack, size, 64);
  await waitCompleted(stack, before + ids.length, 120_000);
  const tasksPerS = (ids.length / (nowMs() - t0)) * 1000;

  // Dispatch latency: open loop at a fixed arrival rate; submit → executor start.
  const total = rate * latencySeconds;
  const submitted = new Map<string, number>();
  const start = nowMs();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - nowMs();
    if (wait > 1) await sleep(wait);
    inflight.push(
      (async () => {
        const at = epochMs();
        const res = await stack.api('POST', '/v1/tasks', {
          capability: CAPABILITY,
          payload: { i },
        });
        const { id } = (await res.json()) as { id: string };
        submitted.set(id, at);
      })(),
    );
  }
  await Promise.all(inflight);
  const before2 = await completedCount(stack);
  void before2;
  await waitCompleted(stack, before + ids.length + total, 60_000);
  const started = await startTimes(stack, new Set(submitted.keys()));
  const lat = new LatencyRecorder();
  for (const [id, at] of submitted) {
    const s = started.get(id);
    if (s !== undefined) lat.recordMs(Math.max(0, s - at));
  }
  if (lat.count < total) throw new Error(`only ${lat.count}/${total} latency samples`);
  return {
    tasks_per_s: round(tasksPerS, 1),
    dispatch_p50_ms: lat.percentileMs(50),
    dispatch_p99_ms: lat.percentileMs(99),
  };
}

async function baselineRun(redisUrl: string, size: number, rate: number, latencySeconds: number) {
  const name = `sybench-raw-${randomBytes(4).toString('hex')}`;
  const prefix = `sybench-raw:${name}`;
  const conn = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection: conn, prefix });
  const lat = new LatencyRecorder();
  let done = 0;
  let latencyPhase = false;
  const worker = new Worker(
    name,
    async (job) => {
      if (latencyPhase) lat.recordMs(Math.max(0, epochMs() - (job.data as { at: number }).at));
      return null;
    },
    { connection: new Redis(redisUrl, { maxRetriesPerRequest: null }), prefix, concurrency: 50 },
  );
  worker.on('completed', () => done++);
  await worker.waitUntilReady();
  try {
    const t0 = nowMs();
    for (let i = 0; i < size; i += 1000) {
      const n = Math.min(1000, size - i);
      await queue.addBulk(
        Array.from({ length: n }, (_, k) => ({
          name: 'noop',
          data: { n: i + k, at: 0 },
          opts: { removeOnComplete: true },
        })),
      );
    }
    while (done < size) await sleep(5);
    const tasksPerS = (size / (nowMs() - t0)) * 1000;
    latencyPhase = true;
    const total = rate * latencySeconds;
    const start = nowMs();
    for (let i = 0; i < total; i++) {
      const wait = start + (i * 1000) / rate - nowMs();
      if (wait > 1) await sleep(wait);
      void queue.add('noop', { at: epochMs() }, { removeOnComplete: true });
    }
    while (done < size + total) await sleep(5);
    return {
      tasks_per_s: round(tasksPerS, 1),
      dispatch_p50_ms: lat.percentileMs(50),
      dispatch_p99_ms: lat.percentileMs(99),
    };
  } finally {
    await worker.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    conn.disconnect();
  }
}

/**
 * `npm run bench -- pipeline`: no-op tasks submitted through the REST API, dispatched over the
 * bus (RabbitMQ) to a worker process, completed — against raw BullMQ (add + no-op worker).
 */
export async function pipelineScenario(opts: BenchOptions): Promise<BenchReport> {
  const size = opts.size ?? 5000;
  const rate = Number(opts.flags.rate ?? 200);
  const latencySeconds = Number(opts.flags.seconds ?? 5);
  const stack = new SwitchyardStack(opts.redisUrl, opts.amqpUrl, {
    ORCHESTRATOR_CONCURRENCY: '512',
  });
  const ours: Record<string, number>[] = [];
  const base: Record<string, number>[] = [];
  try {
    progress('starting a control plane and a worker process');
    await stack.startControlPlane();
    await stack.startWorker(AGENTS, 'bench-worker-1');
    await stack.waitForAgents(CAPABILITY, 1);
    progress('warm-up');
    await oursRun(stack, 500, rate, 1);
    for (let r = 0; r < opts.reps; r++) {
      progress(`rep ${r + 1}/${opts.reps}: raw BullMQ`);
      base.push(await baselineRun(opts.redisUrl, size, rate, latencySeconds));
      progress(`rep ${r + 1}/${opts.reps}: Switchyard (REST → queue → bus → worker → reply)`);
      ours.push(await oursRun(stack, size, rate, latencySeconds));
      progress(`  ours ${JSON.stringify(ours.at(-1))} raw ${JSON.stringify(base.at(-1))}`);
    }
  } finally {
    await stack.stop();
    await deleteKeys(opts.redisUrl, stack.prefix);
  }
  const results = medianOf(ours);
  const baseline = medianOf(base);
  return {
    scenario: 'pipeline',
    size,
    reps: opts.reps,
    results,
    baseline,
    ratio: ratios(results, baseline, ['tasks_per_s', 'dispatch_p50_ms', 'dispatch_p99_ms']),
    goals: {
      'tasks_per_s>=2000': (results.tasks_per_s ?? 0) >= 2000,
      'dispatch_p50_ms<=3': (results.dispatch_p50_ms ?? Infinity) <= 3,
      'dispatch_p99_ms<=15': (results.dispatch_p99_ms ?? Infinity) <= 15,
    },
    conditions: {
      path: 'HTTP POST /v1/tasks (64 keep-alive clients) → Redis task record + BullMQ → dispatch (discovery + slot reservation) → RabbitMQ persistent publish with confirm → worker process (builtin stamp handler) → response over RabbitMQ → exactly-once completion',
      processes: '1 control plane + 1 worker (separate processes), bench client in a third',
      arrival_rate_per_s: rate,
      latency_samples: rate * latencySeconds,
      baseline:
        'bullmq Queue.addBulk + Worker concurrency 50, no-op; latency: add at the same rate → processor start',
    },
  };
}
