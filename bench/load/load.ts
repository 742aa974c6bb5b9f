/**
 * `npm run load -- steady|spike|stress|soak [--full] [--seconds N] [--rate N]`: the plan's four
 * load scenarios against a private Redis and 1 control plane + 2 workers (shared RabbitMQ on
 * AMQP_URL, own namespace), spawned from the compiled CLI. One JSON line on stdout: submit and
 * end-to-end latency percentiles, error rate, RSS slope of every process, Redis memory.
 *
 *   steady  10 tasks/s              (60 s; --full 600 s)
 *   spike   10/s, then 100/s, then 10/s (10 + 10 + 10 s; --full 60 + 30 + 60 s)
 *   stress  N tasks at once          (500; --full 1,000)
 *   soak    50 tasks/s               (60 s; --full 420 s): Redis memory must level off
 *
 * --retention-seconds N sets TASK_RETENTION_SECONDS (soak default 30, so finished tasks are
 * archived and removed within the run; the others keep the 7-day default).
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/switchyard-processes';
import {
  Owned,
  percentile,
  repoRoot,
  waitAgents,
  waitReady,
  waitTcp,
  watchCompletions,
} from '../chaos/chaos';

type Scenario = 'steady' | 'spike' | 'stress' | 'soak';
/** One phase: `rate` submissions per second for `seconds` (rate 0: `burst` at once). */
interface Phase {
  rate: number;
  seconds: number;
  burst?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function phasesOf(s: Scenario, full: boolean, seconds?: number, rate?: number): Phase[] {
  switch (s) {
    case 'steady':
      return [{ rate: rate ?? 10, seconds: seconds ?? (full ? 600 : 60) }];
    case 'spike':
      return [
        { rate: 10, seconds: full ? 60 : 10 },
        { rate: rate ?? 100, seconds: seconds ?? (full ? 30 : 10) },
        { rate: 10, seconds: full ? 60 : 10 },
      ];
    case 'stress':
      return [{ rate: 0, seconds: 0, burst: rate ?? (full ? 1000 : 500) }];
    case 'soak':
      return [{ rate: rate ?? 50, seconds: seconds ?? (full ? 420 : 60) }];
  }
}

function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Least-squares slope of (t ms, v) in units per minute. */
function slopePerMin(points: [number, number][]): number | null {
  if (points.length < 3) return null;
  const n = points.length;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : Math.round((num / den) * 60_000 * 100) / 100;
}

function redisUsedMb(port: number): number | undefined {
  try {
    const out = execFileSync('redis-cli', ['-p', String(port), 'INFO', 'memory'], {
      encoding: 'utf8',
      timeout: 5000,
    });
    const m = /used_memory:(\d+)/.exec(out);
    return m ? Math.round((Number(m[1]) / 1048576) * 100) / 100 : undefined;
  } catch {
    return undefined;
  }
}

export async function runLoad(
  scenario: Scenario,
  phases: Phase[],
  retentionSeconds?: number,
): Promise<unknown> {
  const log = (l: string) => process.stderr.write(`[load] ${l}\n`);
  const root = repoRoot();
  const bin = join(root, 'bin', 'switchyard.js');
  const dir = mkdtempSync(join(tmpdir(), 'sy-load-'));
  const owned: Owned[] = [];
  // Ctrl-C / SIGTERM: everything started dies with the run.
  const onSignal = () => {
    for (const p of owned) p.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const redisPort = await freePort();
    mkdirSync(join(dir, 'redis'));
    const redis = new Owned('redis', () =>
      spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', ''], {
        cwd: join(dir, 'redis'),
        stdio: 'ignore',
      }),
    );
    owned.push(redis);
    await waitTcp(redisPort, 20_000, 'private redis-server');
    const id = randomBytes(4).toString('hex');
    const token = `load-${randomBytes(12).toString('hex')}`;
    const env = (more: Record<string, string>): NodeJS.ProcessEnv => ({
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      AMQP_URL: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
      REDIS_KEY_PREFIX: `syload:${id}:`,
      BUS_NAMESPACE: `syload-${id}.`,
      // Short-lived broker objects on the shared broker: gone 2 minutes after the run.
      BUS_AGENT_QUEUE_EXPIRES_MS: '120000',
      BUS_TASK_TTL_MS: '60000',
      BUS_REPLY_QUEUE_EXPIRES_MS: '60000',
      ...(retentionSeconds !== undefined && {
        TASK_RETENTION_SECONDS: String(retentionSeconds),
        TASK_RETENTION_SWEEP_MS: '5000',
      }),
      SWITCHYARD_ADMIN_TOKEN: token,
      LOG_LEVEL: 'warn',
      LOG_REQUESTS: 'false',
      ...more,
    });
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const cp = new Owned('cp', () =>
      spawn(process.execPath, [bin, 'serve'], {
        env: env({ HOST: '127.0.0.1', PORT: String(port) }),
        stdio: 'ignore',
      }),
    );
    owned.push(cp);
    await waitReady(url, 90_000);
    const workers = [1, 2].map(
      (i) =>
        new Owned(`w${i}`, () =>
          spawn(process.execPath, [bin, 'worker', '--agents', join(root, 'bench', 'agents')], {
            env: env({ WORKER_ID: `w${i}` }),
            stdio: 'ignore',
          }),
        ),
    );
    owned.push(...workers);
    await waitAgents(url, token, 2, 90_000);
    const feed = await watchCompletions(url, token);

    // RSS of every process and Redis memory, once a second.
    const procs = owned.map((p) => ({
      name: p.name,
      pid: p.pid,
      points: [] as [number, number][],
    }));
    const redisPoints: [number, number][] = [];
    const t0 = Date.now();
    const sampler = setInterval(() => {
      const t = Date.now() - t0;
      for (const p of procs) {
        const mb = rssMb(p.pid);
        if (mb !== undefined) p.points.push([t, mb]);
      }
      const r = redisUsedMb(redisPort);
      if (r !== undefined) redisPoints.push([t, r]);
    }, 1000);

    const submittedAt = new Map<string, number>();
    const submitMs: number[] = [];
    let submitErrors = 0;
    let submitted = 0;
    const submit = async () => {
      submitted++;
      const started = Date.now();
      try {
        const r = await fetch(`${url}/v1/tasks`, {
          method: 'POST',
          headers: {
            Authorization: `Bearer ${token}`,
            'Content-Type': 'application/json',
            'Idempotency-Key': randomUUID(),
          },
          body: JSON.stringify({ capability: 'bench-noop', payload: {} }),
          signal: AbortSignal.timeout(30_000),
        });
        const body = (await r.json()) as { id?: string };
        if (r.status !== 201 || !body.id) {
          submitErrors++;
          return;
        }
        submitMs.push(Date.now() - started);
        submittedAt.set(body.id, started);
      } catch {
        submitErrors++;
      }
    };
    const inflight: Promise<void>[] = [];
    log(`${scenario}: ${JSON.stringify(phases)}`);
    for (const ph of phases) {
      if (ph.burst) {
        for (let i = 0; i < ph.burst; i++) inflight.push(submit());
        continue;
      }
      const start = Date.now();
      const n = Math.round(ph.rate * ph.seconds);
      for (let i = 0; i < n; i++) {
        const due = start + (i * 1000) / ph.rate;
        if (due > Date.now()) await sleep(due - Date.now());
        inflight.push(submit());
      }
    }
    await Promise.all(inflight);
    // Wait for completions (up to 120 s).
    const until = Date.now() + 120_000;
    while (Date.now() < until && [...submittedAt.keys()].some((k) => !feed.firstAt.has(k))) {
      await sleep(500);
    }
    clearInterval(sampler);
    feed.close();
    const e2e = [...submittedAt].flatMap(([k, at]) => {
      const done = feed.firstAt.get(k);
      return done === undefined ? [] : [done - at];
    });
    const notCompleted = [...submittedAt.keys()].filter((k) => !feed.firstAt.has(k)).length;
    const mb = (v: number | undefined) => (v === undefined ? null : Math.round(v * 10) / 10);
    return {
      scenario,
      phases,
      submitted,
      accepted: submittedAt.size,
      submit_errors: submitErrors,
      not_completed: notCompleted,
      error_rate_pct:
        submitted === 0
          ? 0
          : Math.round(((submitErrors + notCompleted) / submitted) * 100_000) / 1000,
      submit_ms: {
        p50: percentile(submitMs, 50),
        p95: percentile(submitMs, 95),
        p99: percentile(submitMs, 99),
      },
      end_to_end_ms: {
        p50: percentile(e2e, 50),
        p95: percentile(e2e, 95),
        p99: percentile(e2e, 99),
      },
      rss: Object.fromEntries(
        procs.map((p) => [
          p.name,
          {
            start_mb: mb(p.points[0]?.[1]),
            end_mb: mb(p.points[p.points.length - 1]?.[1]),
            slope_mb_per_min: slopePerMin(p.points.slice(Math.floor(p.points.length / 5))),
          },
        ]),
      ),
      redis_used_mb: {
        start: redisPoints[0]?.[1] ?? null,
        end: redisPoints[redisPoints.length - 1]?.[1] ?? null,
        max: redisPoints.length ? Math.max(...redisPoints.map((p) => p[1])) : null,
        slope_mb_per_min_last_half: slopePerMin(
          redisPoints.slice(Math.floor(redisPoints.length / 2)),
        ),
      },
      retention_seconds: retentionSeconds ?? 'default (7 days)',
      duration_s: Math.round((Date.now() - t0) / 1000),
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await Promise.all(owned.map((p) => p.kill('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const scenario = args[0] as Scenario;
  if (!['steady', 'spike', 'stress', 'soak'].includes(scenario)) {
    process.stderr.write(
      'usage: npm run load -- steady|spike|stress|soak [--full] [--seconds N] [--rate N] [--retention-seconds N]\n',
    );
    process.exit(2);
  }
  const flag = (name: string) => {
    const i = args.indexOf(`--${name}`);
    if (i < 0) return undefined;
    const n = Number(args[i + 1]);
    if (!Number.isFinite(n) || n <= 0) {
      process.stderr.write(`--${name} needs a positive number\n`);
      process.exit(2);
    }
    return n;
  };
  const phases = phasesOf(scenario, args.includes('--full'), flag('seconds'), flag('rate'));
  // The soak shows Redis levelling off only if finished tasks expire within the run.
  const retention = flag('retention-seconds') ?? (scenario === 'soak' ? 30 : undefined);
  runLoad(scenario, phases, retention).then(
    (r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      process.exit(0);
    },
    (e: Error) => {
      process.stderr.write(`load run failed: ${e.stack ?? e.message}\n`);
      process.exit(1);
    },
  );
}
