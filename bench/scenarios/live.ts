import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import Redis from 'ioredis';
import { loadConfig } from '../../src/config/load-config';
import { EventsService } from '../../src/events/events.service';
import { createApp } from '../../src/http-server/create-app';
import { TaskQueueService } from '../../src/queue/task-queue.service';
import {
  type BenchOptions,
  type BenchReport,
  median,
  nowMs,
  progress,
  round,
  sleep,
} from '../harness';

const DEFAULT_SIZE = 2000;
const CLIENTS = 10;
const TOKEN = `bench-${randomBytes(8).toString('hex')}`;
const LATENCY_RATE_PER_S = 2000;
const LATENCY_SECONDS = 3;

interface ClientStats {
  received: number;
  samples: number;
  p50: number;
  p99: number;
}

/** The WebSocket clients, in a child process (bench/live-clients.ts). */
class ClientProcess {
  private readonly child: ChildProcess;

  constructor() {
    this.child = fork(join(__dirname, '..', 'live-clients.js'), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
  }

  private ask<T>(message: Record<string, unknown>): Promise<T> {
    return new Promise((resolve) => {
      this.child.once('message', (reply) => resolve(reply as T));
      this.child.send(message);
    });
  }

  connect(url: string, count: number): Promise<unknown> {
    return this.ask({ cmd: 'connect', url, token: TOKEN, count });
  }

  stats(): Promise<ClientStats> {
    return this.ask({ cmd: 'stats' });
  }

  reset(parse: boolean): Promise<unknown> {
    return this.ask({ cmd: 'reset', parse });
  }

  close(): Promise<unknown> {
    return this.ask({ cmd: 'close' });
  }

  kill(): void {
    this.child.kill();
  }
}

async function deletePrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

/** Closed loop: enqueue `size` tasks, run them through the queue with a no-op handler, time until all completed. */
async function pipelineRun(
  app: NestFastifyApplication,
  size: number,
  run: string,
): Promise<{ tasksPerS: number; events: number; ms: number; cpuUs: number }> {
  const queue = app.get(TaskQueueService);
  const events = app.get(EventsService);
  let completed = 0;
  let emitted = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const off = events.subscribe((e) => {
    emitted++;
    if (e.type === 'task.completed' && e.capability === `bench-${run}` && ++completed === size)
      resolveDone();
  });
  const inputs = Array.from({ length: size }, () => ({
    capability: `bench-${run}`,
    payload: { n: 1 },
  }));
  const t0 = nowMs();
  const cpu0 = process.cpuUsage();
  await queue.enqueueMany(inputs);
  await queue.startProcessing(async () => ({ kind: 'completed' as const, result: null }), {
    concurrency: 50,
  });
  await done;
  const ms = nowMs() - t0;
  const cpu = process.cpuUsage(cpu0);
  await queue.stopProcessing();
  off();
  return { tasksPerS: (size / ms) * 1000, events: emitted, ms, cpuUs: cpu.user + cpu.system };
}

/**
 * Live feed cost and speed. (1) Closed loop: `size` tasks through the real queue (enqueueMany,
 * BullMQ worker with a no-op handler, task records in Redis; ~4 events per task) with 10
 * WebSocket clients subscribed to every task/workflow event vs none; events/s = events delivered
 * to all clients / elapsed. (2) Open loop: task events emitted at a fixed rate through
 * EventsService with 10 clients; delivery latency = emit → client message parsed (same process).
 */
export async function liveScenario(options: BenchOptions): Promise<BenchReport> {
  const size = options.size ?? DEFAULT_SIZE;
  const reps = options.reps;
  const prefix = `sybench:live:${randomBytes(4).toString('hex')}:`;
  const config = loadConfig({
    REDIS_URL: options.redisUrl,
    AMQP_URL: options.amqpUrl,
    REDIS_KEY_PREFIX: prefix,
    BUS_TRANSPORT: 'memory',
    ORCHESTRATOR_ENABLED: 'false',
    LOG_LEVEL: 'warn',
    SWITCHYARD_ADMIN_TOKEN: TOKEN,
    PORT: '0',
    HOST: '127.0.0.1',
  });
  const app = await createApp({ config, bufferLogs: false });
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  try {
    progress(`warm-up (${Math.min(size, 500)} tasks)`);
    await pipelineRun(app, Math.min(size, 500), 'warm');

    const clients = new ClientProcess();
    const without: number[] = [];
    const withClients: number[] = [];
    const eventsPerS: number[] = [];
    const cpuWith: number[] = [];
    const cpuWithout: number[] = [];
    let latency: ClientStats | undefined;
    let pairedRatio = NaN;
    try {
      const ratiosPerRep: number[] = [];
      const half = Math.max(1, Math.floor(size / 2));
      for (let r = 0; r < reps; r++) {
        // ABBA: without, with, with, without (half the tasks each), so a linear drift of the
        // shared machine's speed weighs the same on both modes.
        let noneMs = 0;
        let tenMs = 0;
        let noneCpu = 0;
        let tenCpu = 0;
        let delivered = 0;
        for (const mode of ['none', 'ten', 'ten', 'none'] as const) {
          if (mode === 'none') {
            const none = await pipelineRun(app, half, `none${r}`);
            noneMs += none.ms;
            noneCpu += none.cpuUs;
            continue;
          }
          await clients.connect(url, CLIENTS);
          await clients.reset(false);
          const ten = await pipelineRun(app, half, `ten${r}`);
          tenMs += ten.ms;
          tenCpu += ten.cpuUs;
          await sleep(300); // let the last frames arrive
          delivered += (await clients.stats()).received;
          await clients.close();
        }
        const base = (2 * half * 1000) / noneMs;
        const run = (2 * half * 1000) / tenMs;
        cpuWithout.push(noneCpu / (2 * half));
        cpuWith.push(tenCpu / (2 * half));
        without.push(base);
        withClients.push(run);
        ratiosPerRep.push(run / base);
        eventsPerS.push((delivered / tenMs) * 1000);
        progress(
          `rep ${r + 1}/${reps}: ${round(base)} tasks/s without clients, ${round(run)} with ${CLIENTS} (ratio ${round(run / base, 3)}; ${delivered} events delivered, ${round((delivered / tenMs) * 1000)}/s)`,
        );
      }
      pairedRatio = median(ratiosPerRep);

      progress(
        `open loop: ${LATENCY_RATE_PER_S} events/s for ${LATENCY_SECONDS}s to ${CLIENTS} clients`,
      );
      await clients.connect(url, CLIENTS);
      await clients.reset(true);
      const events = app.get(EventsService);
      const total = LATENCY_RATE_PER_S * LATENCY_SECONDS;
      const t0 = nowMs();
      for (let i = 0; i < total; i++) {
        const due = t0 + (i * 1000) / LATENCY_RATE_PER_S;
        const wait = due - nowMs();
        if (wait > 1) await sleep(wait);
        events.emit('task.completed', {
          taskId: `lat-${i}`,
          workflowId: 'bench',
          capability: 'bench',
          data: { sentAt: performance.timeOrigin + performance.now() },
        });
      }
      await sleep(500);
      latency = await clients.stats();
      await clients.close();
    } finally {
      clients.kill();
    }

    const results = {
      tasks_per_s_with_clients: round(median(withClients)),
      events_per_s: round(median(eventsPerS)),
      delivery_p50_ms: latency.p50,
      delivery_p99_ms: latency.p99,
      server_cpu_us_per_task_with_clients: round(median(cpuWith)),
    };
    const baseline = {
      tasks_per_s_without_clients: round(median(without)),
      server_cpu_us_per_task_without_clients: round(median(cpuWithout)),
    };
    const ratio = {
      // Median of the per-rep ratios (each rep runs both modes back to back).
      throughput_with_clients: round(pairedRatio, 3),
      // Server process CPU per task (user + system), with clients / without: the gateway's own
      // cost, which the co-located client process cannot blur.
      server_cpu_per_task: round(
        results.server_cpu_us_per_task_with_clients /
          baseline.server_cpu_us_per_task_without_clients,
        3,
      ),
    };
    return {
      scenario: 'live',
      size,
      reps,
      results,
      baseline,
      ratio,
      goals: {
        'throughput_with_clients>=0.9': ratio.throughput_with_clients >= 0.9,
        'delivery_p99_ms<=50': results.delivery_p99_ms <= 50,
      },
      conditions: {
        pipeline:
          'real TaskQueueService in-process: enqueueMany + BullMQ worker (concurrency 50) with a no-op handler, task records in Redis; no agents, no bus dispatch (orchestrator off)',
        subscription: "each client subscribes to types ['task.*','workflow.*'] (every task event)",
        events_per_task: 'task.created/ready/running/completed as emitted by the queue',
        clients: `${CLIENTS} in one child process (bench/live-clients.ts), same machine; in the throughput phase they count frames without parsing them (the client's JSON work is not the server's cost), in the latency phase they parse every event`,
        bus: 'memory transport (single process: no fan-out to other instances)',
        ratio:
          'median over reps of (tasks/s with clients / tasks/s without); each rep runs without, with, with, without on half the tasks each (ABBA)',
        latency: `open loop, ${LATENCY_RATE_PER_S} task.completed events/s for ${LATENCY_SECONDS}s through EventsService; sent → parsed by each client, ${latency.samples} samples`,
      },
    };
  } finally {
    await app.close();
    await deletePrefix(options.redisUrl, prefix);
  }
}
