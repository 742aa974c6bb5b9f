import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import Redis from 'ioredis';
import {
  type BenchOptions,
  type BenchReport,
  epochMs,
  LatencyRecorder,
  medianOf,
  nowMs,
  openLoop,
  processCpuMicros,
  progress,
  ratios,
  round,
  sleep,
} from '../harness';
import { SwitchyardStack } from '../support/switchyard-processes';
import { deleteKeys } from '../support/redis-keys';
import { RedisSentinelTopology } from '../support/redis-sentinel-topology';

export const AGENTS = join(__dirname, '..', '..', '..', 'bench', 'agents');
export const CAPABILITY = 'bench-noop';

/**
 * Submits `count` tasks through POST /v1/tasks with `concurrency` clients, spread round-robin over
 * every control plane of the stack; returns their ids.
 */
async function submitClosedLoop(
  stack: SwitchyardStack,
  count: number,
  concurrency: number,
): Promise<string[]> {
  const ids: string[] = [];
  const urls = stack.controlPlanes.map((c) => c.url);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, client) => {
      const base = urls[client % urls.length];
      while (next < count) {
        next++;
        const res = await stack.api(
          'POST',
          '/v1/tasks',
          { capability: CAPABILITY, payload: { n: next } },
          base,
        );
        if (!res.ok) throw new Error(`submit failed: ${res.status} ${await res.text()}`);
        ids.push(((await res.json()) as { id: string }).id);
      }
    }),
  );
  return ids;
}

export async function completedCount(stack: SwitchyardStack): Promise<number> {
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

/** CPU microseconds used so far by all the stack's control planes. */
const controlPlaneCpu = (stack: SwitchyardStack): number =>
  stack.controlPlanes.reduce((sum, c) => sum + processCpuMicros(c.pid), 0);

/** Throughput: closed loop, `size` tasks through the whole path; with the control planes' CPU. */
export async function throughputRun(stack: SwitchyardStack, size: number) {
  const before = await completedCount(stack);
  const cpu0 = controlPlaneCpu(stack);
  const t0 = nowMs();
  const ids = await submitClosedLoop(stack, size, 64);
  await waitCompleted(stack, before + ids.length, 120_000);
  const tasksPerS = (ids.length / (nowMs() - t0)) * 1000;
  return {
    tasks_per_s: round(tasksPerS, 1),
    cp_cpu_us_per_task: round((controlPlaneCpu(stack) - cpu0) / ids.length, 1),
  };
}

async function oursRun(stack: SwitchyardStack, size: number, rate: number, latencySeconds: number) {
  const throughput = await throughputRun(stack, size);

  // Dispatch latency: open loop at a fixed arrival rate; from the *scheduled* submit time to the
  // executor's start (stamped by the worker), so a lagging driver cannot hide latency.
  const before = await completedCount(stack);
  const total = rate * latencySeconds;
  const scheduledAt = new Map<string, number>();
  await openLoop(total, rate, async (i, scheduled) => {
    const res = await stack.api('POST', '/v1/tasks', { capability: CAPABILITY, payload: { i } });
    const { id } = (await res.json()) as { id: string };
    scheduledAt.set(id, scheduled);
  });
  await waitCompleted(stack, before + total, 60_000);
  const started = await startTimes(stack, new Set(scheduledAt.keys()));
  const lat = new LatencyRecorder();
  for (const [id, at] of scheduledAt) {
    const s = started.get(id);
    if (s !== undefined) lat.recordMs(Math.max(0, s - at));
  }
  if (lat.count < total) throw new Error(`only ${lat.count}/${total} latency samples`);
  return {
    ...throughput,
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
    // Same driver as ours: the processor measures from the scheduled time.
    await openLoop(total, rate, (_, scheduled) =>
      queue.add('noop', { at: scheduled }, { removeOnComplete: true }),
    );
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
 * `--replica [--ack N]` measures the same path against a Sentinel topology with WAIT.
 */
export async function pipelineScenario(opts: BenchOptions): Promise<BenchReport> {
  const size = opts.size ?? 5000;
  const rate = Number(opts.flags.rate ?? 200);
  const latencySeconds = Number(opts.flags.seconds ?? 5);
  const controlPlanes = Number(opts.flags['control-planes'] ?? 1);
  const profileDir = opts.flags.profile;
  // --replica: a private master + 1 replica + 3 Sentinels; the control planes go through the
  // Sentinels and WAIT for --ack replicas (default 1) after every submission and outcome.
  const replica = opts.flags.replica === 'true';
  const ack = Number(opts.flags.ack ?? 1);
  let topo: RedisSentinelTopology | undefined;
  let redisUrl = opts.redisUrl;
  let redisEnv: Record<string, string> = {};
  if (replica) {
    progress(
      `starting a private Redis master + replica + 3 Sentinels (REDIS_MIN_REPLICAS_ACK=${ack})`,
    );
    topo = await RedisSentinelTopology.start();
    const master = await topo.currentMaster();
    redisUrl = `redis://${master.host}:${master.port}`;
    redisEnv = { ...topo.env(), REDIS_MIN_REPLICAS_ACK: String(ack) };
  }
  try {
    return await pipelineRun(opts, redisUrl, redisEnv, {
      size,
      rate,
      latencySeconds,
      controlPlanes,
      profileDir,
      redis: replica
        ? `private master + 1 replica + 3 Sentinels, REDIS_MIN_REPLICAS_ACK=${ack}`
        : 'one Redis (REDIS_URL), no replica',
    });
  } finally {
    await topo?.stop();
  }
}

async function pipelineRun(
  opts: BenchOptions,
  redisUrl: string,
  redisEnv: Record<string, string>,
  p: {
    size: number;
    rate: number;
    latencySeconds: number;
    controlPlanes: number;
    profileDir?: string;
    redis: string;
  },
): Promise<BenchReport> {
  const { size, rate, latencySeconds, controlPlanes, profileDir } = p;
  const stack = new SwitchyardStack(redisUrl, opts.amqpUrl, {
    ORCHESTRATOR_CONCURRENCY: '512',
    ...redisEnv,
  });
  const ours: Record<string, number>[] = [];
  const base: Record<string, number>[] = [];
  const multi: Record<string, number>[] = [];
  try {
    progress('starting a control plane and a worker process');
    await stack.startControlPlane(profileDir);
    await stack.startWorker(AGENTS, 'bench-worker-1');
    await stack.waitForAgents(CAPABILITY, 1);
    progress('warm-up');
    await oursRun(stack, 500, rate, 1);
    for (let r = 0; r < opts.reps; r++) {
      progress(`rep ${r + 1}/${opts.reps}: raw BullMQ`);
      base.push(await baselineRun(redisUrl, size, rate, latencySeconds));
      progress(`rep ${r + 1}/${opts.reps}: Switchyard (REST → queue → bus → worker → reply)`);
      ours.push(await oursRun(stack, size, rate, latencySeconds));
      progress(`  ours ${JSON.stringify(ours.at(-1))} raw ${JSON.stringify(base.at(-1))}`);
    }
    if (controlPlanes > 1) {
      progress(
        `starting ${controlPlanes - 1} more control plane(s) on the same Redis and RabbitMQ`,
      );
      for (let i = 1; i < controlPlanes; i++) await stack.startControlPlane();
      for (let r = 0; r < opts.reps; r++) {
        multi.push(await throughputRun(stack, size));
        progress(`  ${controlPlanes} control planes: ${JSON.stringify(multi.at(-1))}`);
      }
    }
  } finally {
    await stack.stop();
    await deleteKeys(redisUrl, stack.prefix);
  }
  const results = medianOf(ours);
  const baseline = medianOf(base);
  const ratio = ratios(results, baseline, ['tasks_per_s', 'dispatch_p50_ms', 'dispatch_p99_ms']);
  if (multi.length > 0) {
    const m = medianOf(multi);
    results[`tasks_per_s_${controlPlanes}cp`] = m.tasks_per_s!;
    results[`cp_cpu_us_per_task_${controlPlanes}cp`] = m.cp_cpu_us_per_task!;
    ratio[`control_planes_${controlPlanes}_vs_1`] = round(m.tasks_per_s / results.tasks_per_s, 3);
  }
  return {
    scenario: 'pipeline',
    size,
    reps: opts.reps,
    results,
    baseline,
    ratio,
    goals: {
      'tasks_per_s>=2000': (results.tasks_per_s ?? 0) >= 2000,
      'tasks_per_s_ratio>=0.25': (ratio.tasks_per_s ?? 0) >= 0.25,
      'cp_cpu_us_per_task<=300': (results.cp_cpu_us_per_task ?? Infinity) <= 300,
      'dispatch_p50_ms<=3': (results.dispatch_p50_ms ?? Infinity) <= 3,
      'dispatch_p99_ms<=15': (results.dispatch_p99_ms ?? Infinity) <= 15,
    },
    conditions: {
      path: 'HTTP POST /v1/tasks (64 keep-alive clients) → Redis task record + BullMQ → dispatch (discovery + slot reservation) → RabbitMQ persistent publish with confirm → worker process (builtin stamp handler) → response over RabbitMQ → exactly-once completion',
      processes: `${controlPlanes > 1 ? `1, then ${controlPlanes}` : '1'} control plane(s) + 1 worker (separate processes), bench client in another`,
      cp_cpu:
        'user+system CPU of the control-plane processes over the throughput phase (/proc), per task',
      redis: p.redis,
      arrival_rate_per_s: rate,
      latency_samples: rate * latencySeconds,
      baseline:
        'bullmq Queue.addBulk + Worker concurrency 50, no-op; latency: add at the same rate → processor start',
    },
  };
}
