import { readFileSync } from 'node:fs';
import { build as buildHistogram } from 'hdr-histogram-js';

/** Options every scenario receives (`npm run bench -- <scenario> [--size N] [--reps R]`). */
export interface BenchOptions {
  size?: number;
  reps: number;
  redisUrl: string;
  amqpUrl: string;
  /** Free-form extra flags (`--foo bar` → { foo: 'bar' }). */
  flags: Record<string, string>;
}

/** What a scenario returns; printed as the last line of the run (see shared/BENCHMARKS.md). */
export interface BenchReport {
  scenario: string;
  size: number;
  reps: number;
  results: Record<string, number>;
  baseline: Record<string, number>;
  ratio: Record<string, number>;
  goals: Record<string, boolean>;
  conditions?: Record<string, unknown>;
}

export type Scenario = (options: BenchOptions) => Promise<BenchReport>;

/** Latency recorder (HdrHistogram, microsecond resolution) reporting p50/p99 in milliseconds. */
export class LatencyRecorder {
  private readonly hist = buildHistogram({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });

  /** Worst lag of an open-loop schedule: how late a call started (near 0 = schedule kept). */
  maxLagMs = 0;

  recordMs(ms: number): void {
    this.hist.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  percentileMs(p: number): number {
    return round(this.hist.getValueAtPercentile(p) / 1000, 3);
  }

  get count(): number {
    return this.hist.totalCount;
  }
}

export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Median of each key over several repetitions. */
export function medianOf(runs: Record<string, number>[]): Record<string, number> {
  const keys = new Set(runs.flatMap((r) => Object.keys(r)));
  const out: Record<string, number> = {};
  for (const k of keys)
    out[k] = round(median(runs.map((r) => r[k]).filter((v): v is number => v !== undefined)), 3);
  return out;
}

/** ours / baseline for the given keys. */
export function ratios(
  results: Record<string, number>,
  baseline: Record<string, number>,
  keys: string[],
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) {
    const a = results[k];
    const b = baseline[k];
    if (a !== undefined && b !== undefined && b !== 0) out[k] = round(a / b, 3);
  }
  return out;
}

export function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The open-loop driver every scenario uses: call i is due at t0 + i/rate and starts then, whatever
 * earlier calls are doing; its latency is measured from the time it was *scheduled*, so a driver
 * that falls behind shows up as latency instead of hiding it (no coordinated omission). `call`
 * resolves when the operation is done, or with a {@link CompletedAt} when the end is observed
 * elsewhere (e.g. an executor start time reported by another process).
 */
export async function openLoop(
  count: number,
  ratePerS: number,
  call: (i: number, scheduledEpochMs: number) => Promise<unknown>,
  opts: { warmup?: number; recorder?: LatencyRecorder } = {},
): Promise<LatencyRecorder> {
  const warm = opts.warmup ?? 0;
  for (let i = 0; i < warm; i++) await call(-1 - i, epochMs());
  const rec = opts.recorder ?? new LatencyRecorder();
  const interval = 1000 / ratePerS;
  const start = nowMs();
  const startEpoch = epochMs();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const due = start + i * interval;
    const wait = due - nowMs();
    if (wait > 1) await sleep(wait);
    const scheduled = startEpoch + i * interval;
    rec.maxLagMs = Math.max(rec.maxLagMs, nowMs() - due);
    inFlight.push(
      call(i, scheduled).then((out) => {
        const doneAt = out instanceof CompletedAt ? out.epochMs : epochMs();
        rec.recordMs(doneAt - scheduled);
      }),
    );
  }
  await Promise.all(inFlight);
  return rec;
}

/** Wall-clock milliseconds since the epoch with sub-millisecond resolution (comparable across processes). */
export const epochMs = (): number => performance.timeOrigin + performance.now();

/** CPU time (user + system) a process has used, in microseconds, from /proc (Linux). */
export function processCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return (ticks * 1e6) / CLOCK_TICKS;
}

/** USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK). */
const CLOCK_TICKS = 100;

/** What an open-loop call returns when the operation ended at a time observed elsewhere. */
export class CompletedAt {
  constructor(readonly epochMs: number) {}
}
