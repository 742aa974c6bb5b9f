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
