import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type BenchOptions,
  type BenchReport,
  medianOf,
  processCpuMicros,
  progress,
  round,
} from '../harness';
import { deleteKeys } from '../support/redis-keys';
import { SwitchyardStack } from '../support/switchyard-processes';
import { AGENTS, CAPABILITY, throughputRun } from './pipeline';

/**
 * A local OTLP/HTTP sink (protobuf, the default encoding, or JSON): takes every export (reads the whole body, answers 200) and counts
 * requests and bytes, so the exporters pay their real serialisation and HTTP cost. It parses
 * nothing (the bench client shares the machine with the stacks under test).
 */
async function startSink(): Promise<{
  url: string;
  stats: { requests: number; bytes: number };
  close: () => Promise<void>;
}> {
  const stats = { requests: 0, bytes: 0 };
  const server: Server = createServer((req, res) => {
    req.on('data', (c: Buffer) => (stats.bytes += c.length));
    req.on('end', () => {
      stats.requests++;
      // An empty 200 is a full success for both encodings (no partial-success body to decode).
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

type Mode = 'off' | 'full' | 'tenth';

const MODE_ENV = (sink: string): Record<Mode, Record<string, string>> => ({
  off: {},
  full: { OTEL_EXPORTER_OTLP_ENDPOINT: sink, OTEL_TRACES_SAMPLER_RATIO: '1' },
  tenth: { OTEL_EXPORTER_OTLP_ENDPOINT: sink, OTEL_TRACES_SAMPLER_RATIO: '0.1' },
});

/** CPU microseconds used so far by every process of a stack (control plane and worker). */
const stackCpu = (stack: SwitchyardStack): number =>
  stack.processes.reduce((sum, p) => sum + (p.pid ? processCpuMicros(p.pid) : 0), 0);

/**
 * One closed-loop run; on a shared, overloaded machine a submit can meet a Redis command timeout
 * (503): such a run is discarded and run again (at most twice), and the retry is reported.
 */
async function runOnce(stack: SwitchyardStack, size: number, mode: Mode) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await throughputRun(stack, size);
    } catch (e) {
      if (attempt >= 3) throw e;
      retried++;
      progress(`tracing ${mode}: run failed (${(e as Error).message.slice(0, 120)}); again`);
    }
  }
}
let retried = 0;

/**
 * `npm run bench -- tracing`: the pipeline (REST → queue → bus → worker → reply) with tracing off,
 * on at 100% sampling and on at 10%, each exporting over OTLP/HTTP to a local sink. Three stacks
 * (control plane + worker each) run side by side; every repetition runs the three modes back to
 * back so that load from elsewhere on the machine hits them alike. Goals: throughput overhead
 * ≤ 10% at 100% sampling and ≤ 3% at 10%.
 */
export async function tracingScenario(opts: BenchOptions): Promise<BenchReport> {
  const size = opts.size ?? 3000;
  const sink = await startSink();
  const envs = MODE_ENV(sink.url);
  const modes: Mode[] = ['off', 'full', 'tenth'];
  const stacks = new Map<Mode, SwitchyardStack>();
  const runs: Record<Mode, Record<string, number>[]> = { off: [], full: [], tenth: [] };
  try {
    for (const mode of modes) {
      progress(`starting a control plane and a worker with tracing ${mode}`);
      const stack = new SwitchyardStack(opts.redisUrl, opts.amqpUrl, {
        ORCHESTRATOR_CONCURRENCY: '512',
        ...envs[mode],
      });
      stacks.set(mode, stack);
      await stack.startControlPlane();
      await stack.startWorker(AGENTS, `bench-trace-${mode}`);
      await stack.waitForAgents(CAPABILITY, 1);
      await throughputRun(stack, 300); // warm-up
    }
    for (let r = 0; r < opts.reps; r++) {
      // Rotate the order so no mode always runs first (or last) in a repetition.
      const order = modes.map((_, i) => modes[(i + r) % modes.length]);
      for (const mode of order) {
        const stack = stacks.get(mode)!;
        const cpu0 = stackCpu(stack);
        const out = await runOnce(stack, size, mode);
        runs[mode].push({
          tasks_per_s: out.tasks_per_s,
          cpu_us_per_task: round((stackCpu(stack) - cpu0) / size, 1),
        });
        progress(`rep ${r + 1}/${opts.reps} tracing ${mode}: ${JSON.stringify(runs[mode].at(-1))}`);
      }
    }
  } finally {
    for (const stack of stacks.values()) {
      await stack.stop();
      await deleteKeys(opts.redisUrl, stack.prefix);
    }
    await sink.close();
  }
  const off = medianOf(runs.off);
  const full = medianOf(runs.full);
  const tenth = medianOf(runs.tenth);
  const overhead = (on: number, base: number) => round((1 - on / base) * 100, 1);
  const cpuOverhead = (on: number, base: number) => round((on / base - 1) * 100, 1);
  const results = {
    tasks_per_s_full: full.tasks_per_s,
    tasks_per_s_tenth: tenth.tasks_per_s,
    cpu_us_per_task_full: full.cpu_us_per_task,
    cpu_us_per_task_tenth: tenth.cpu_us_per_task,
    throughput_overhead_pct_full: overhead(full.tasks_per_s, off.tasks_per_s),
    throughput_overhead_pct_tenth: overhead(tenth.tasks_per_s, off.tasks_per_s),
    cpu_overhead_pct_full: cpuOverhead(full.cpu_us_per_task, off.cpu_us_per_task),
    cpu_overhead_pct_tenth: cpuOverhead(tenth.cpu_us_per_task, off.cpu_us_per_task),
    otlp_exports: sink.stats.requests,
    otlp_kib: round(sink.stats.bytes / 1024, 0),
    runs_retried: retried,
  };
  return {
    scenario: 'tracing',
    size,
    reps: opts.reps,
    results,
    baseline: { tasks_per_s: off.tasks_per_s, cpu_us_per_task: off.cpu_us_per_task },
    ratio: {
      tasks_per_s_full_vs_off: round(full.tasks_per_s / off.tasks_per_s, 3),
      tasks_per_s_tenth_vs_off: round(tenth.tasks_per_s / off.tasks_per_s, 3),
    },
    goals: {
      'throughput_overhead_full<=10%': results.throughput_overhead_pct_full <= 10,
      'throughput_overhead_tenth<=3%': results.throughput_overhead_pct_tenth <= 3,
    },
    conditions: {
      path: 'the pipeline scenario: HTTP POST /v1/tasks (64 keep-alive clients) → queue → dispatch → RabbitMQ → worker process (builtin stamp) → reply; closed loop',
      modes:
        'off: no OTLP endpoint (the OpenTelemetry API stays a no-op); full: OTLP/HTTP export (protobuf, the default OTEL_EXPORTER_OTLP_PROTOCOL), OTEL_TRACES_SAMPLER_RATIO=1; tenth: ratio 0.1 (parent-based: a task tree is sampled or not as a whole)',
      sink: 'OTLP/HTTP receiver in the bench process: reads each export and answers 200, parses nothing',
      processes:
        '3 stacks (control plane + worker each) side by side; each repetition runs the 3 modes back to back in rotating order',
      cpu: 'user+system CPU of the stack (control plane + worker) over the run, per task',
    },
  };
}
