import CircuitBreaker from 'opossum';
import { ConfigService } from '../../src/config/config.service';
import { loadConfig } from '../../src/config/load-config';
import { EventsService } from '../../src/events/events.service';
import { MetricsService } from '../../src/observability/metrics.service';
import { LocalBreakerPeers } from '../../src/resilience/breaker-peers';
import { BreakerRegistry } from '../../src/resilience/breaker-registry.service';
import { type BenchOptions, type BenchReport, median, progress, round } from '../harness';

const DEFAULT_SIZE = 200_000;
const GOAL_RATIO = 1.5;
const SLICES = 40;

type Call = () => Promise<unknown>;

/** Nanoseconds per call of `once`, awaited one after the other. */
async function timePerCall(size: number, once: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < size; i++) await once();
  return Number(process.hrtime.bigint() - t0) / size;
}

/**
 * Overhead of `BreakerRegistry.fire()` (per-agent lookup, opossum, failure bookkeeping) around an
 * async no-op, against a bare call and against bare opossum doing the same in the same run.
 * The breaker stays closed (the hot path); no Redis/bus is touched because nothing transitions.
 */
export async function breakerScenario(options: BenchOptions): Promise<BenchReport> {
  const size = options.size ?? DEFAULT_SIZE;
  const reps = options.reps;
  const noop: Call = () => Promise.resolve(1);

  const config = new ConfigService(loadConfig({ LOG_LEVEL: 'warn' }));
  const registry = new BreakerRegistry(
    config,
    new EventsService(),
    new MetricsService(),
    new LocalBreakerPeers(),
  );
  // Bare opossum with the options the registry uses (no call timeout: the queue owns timeouts).
  const raw = new CircuitBreaker<[Call], unknown>((fn) => fn(), {
    timeout: false,
    resetTimeout: config.resilience.breakerResetTimeoutMs,
    rollingPercentilesEnabled: false,
    enableSnapshots: false,
  });
  // opossum's defaults (10 s timeout, rolling percentiles), for reference.
  const rawDefault = new CircuitBreaker<[Call], unknown>((fn) => fn());

  const variants: Record<string, () => Promise<unknown>> = {
    call: () => noop(),
    opossum_raw: () => raw.fire(noop),
    opossum_default: () => rawDefault.fire(noop),
    fire: () => registry.fire('bench-agent', noop),
  };

  progress(`warm-up (${size} calls per variant)`);
  for (const run of Object.values(variants)) await timePerCall(size, run);

  // The machine is shared: interleave the variants in short slices so that load spikes hit all
  // of them alike, and take per variant the median slice of each rep.
  const samples: Record<string, number[]> = {};
  const slice = Math.max(1000, Math.floor(size / SLICES));
  const names = Object.keys(variants);
  for (let r = 0; r < reps; r++) {
    const slices: Record<string, number[]> = {};
    for (let i = 0; i < SLICES; i++) {
      // Rotate the order so no variant always runs first (GC, CPU frequency).
      const order = names.slice(i % names.length).concat(names.slice(0, i % names.length));
      for (const name of order)
        (slices[name] ??= []).push(await timePerCall(slice, variants[name]));
    }
    for (const name of names) (samples[name] ??= []).push(median(slices[name]));
    progress(
      `rep ${r + 1}/${reps}: ${names
        .map((k) => `${k}=${round(samples[k][samples[k].length - 1], 0)}ns`)
        .join(' ')}`,
    );
  }
  const med = (k: string) => round(median(samples[k] ?? []), 1);

  const results = {
    fire_ns: med('fire'),
    overhead_vs_call_ns: round(med('fire') - med('call'), 1),
  };
  const baseline = {
    call_ns: med('call'),
    opossum_raw_ns: med('opossum_raw'),
    opossum_default_ns: med('opossum_default'),
  };
  const ratio: Record<string, number> = {
    // Median of the per-rep ratios: each rep runs both back to back, so drift between reps cancels.
    fire_ns: round(median(samples.fire.map((f, i) => f / samples.opossum_raw[i])), 3),
    fire_vs_call: round(results.fire_ns / baseline.call_ns, 2),
  };
  const snapshot = registry.snapshot('bench-agent');
  await registry.onModuleDestroy();
  raw.shutdown();
  rawDefault.shutdown();
  return {
    scenario: 'breaker',
    size,
    reps,
    results,
    baseline,
    ratio,
    goals: {
      [`fire_overhead_vs_raw_opossum<=${GOAL_RATIO}`]: ratio.fire_ns <= GOAL_RATIO,
    },
    conditions: {
      calls_per_variant_per_rep: size,
      slices_per_rep: SLICES,
      sequential: true,
      action: 'async no-op (Promise.resolve)',
      breaker_state: snapshot.state,
      call_timeout: false,
      tracing: 'none (no active span)',
      node: process.version,
    },
  };
}
