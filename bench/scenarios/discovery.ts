import Redis from 'ioredis';
import { Logger } from '@nestjs/common';
import { ConfigService } from '../../src/config/config.service';
import { loadConfig } from '../../src/config/load-config';
import type { AgentRecord } from '../../src/discovery/agent-record.type';
import { AgentStatus } from '../../src/discovery/agent-record.type';
import { AgentRegistryRepository } from '../../src/discovery/agent-registry.repository';
import { DiscoveryService } from '../../src/discovery/discovery.service';
import { EventsService } from '../../src/events/events.service';
import { MetricsService } from '../../src/observability/metrics.service';
import { RedisService } from '../../src/redis/redis.service';
import {
  type BenchOptions,
  type BenchReport,
  medianOf,
  nowMs,
  openLoop,
  progress,
  ratios,
  round,
  type Scenario,
} from '../harness';

/**
 * `npm run bench -- discovery [--size N] [--reps R] [--queries Q] [--rate QPS]`
 *
 * Registers N agents (default 10,000) over 50 capabilities (3 per agent), then runs Q
 * find-by-capability queries (default 10,000) with filters (min health 0.5, max load ratio 0.8,
 * status AVAILABLE/BUSY, limit 5) at a fixed arrival rate. Ours is DiscoveryService (zod
 * validation + one Lua script over the load-sorted capability index, expiry checked per agent).
 * The baseline is the seed's design on bare ioredis: registration = one pipeline of HSET +
 * EXPIRE + SADDs per agent; find = SMEMBERS capability:{name}, HGETALL each member, filter and
 * sort in JS.
 */

const CAPABILITIES = 50;
const CAPS_PER_AGENT = 3;
const REGISTER_CONCURRENCY = 64;
const FILTERS = { minHealthScore: 0.5, maxLoadRatio: 0.8, limit: 5 };
const FIND_STATUSES = [AgentStatus.Available, AgentStatus.Busy];
const ACCEPTING = new Set<string>(FIND_STATUSES);

interface AgentSpec {
  id: string;
  capabilities: string[];
  status: AgentStatus;
  load: number;
  maxLoad: number;
  healthScore: number;
}

/** Deterministic pseudo-random numbers, so every rep and both sides see the same agents. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeAgents(n: number): AgentSpec[] {
  const rand = rng(42);
  const statuses = (r: number): AgentStatus =>
    r < 0.8
      ? AgentStatus.Available
      : r < 0.9
        ? AgentStatus.Busy
        : r < 0.95
          ? AgentStatus.Draining
          : AgentStatus.Offline;
  return Array.from({ length: n }, (_, i) => {
    const caps = new Set<string>();
    while (caps.size < CAPS_PER_AGENT) caps.add(`cap-${Math.floor(rand() * CAPABILITIES)}`);
    const maxLoad = 1 + Math.floor(rand() * 8);
    return {
      id: `agent-${String(i).padStart(6, '0')}`,
      capabilities: [...caps],
      status: statuses(rand()),
      load: Math.floor(rand() * (maxLoad + 1)),
      maxLoad,
      healthScore: round(0.3 + rand() * 0.7, 3),
    };
  });
}

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 2000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/** Runs `work` for every item with at most `concurrency` in flight; returns items per second. */
async function closedLoop<T>(
  items: T[],
  concurrency: number,
  work: (item: T) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const t0 = nowMs();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
  return (items.length / (nowMs() - t0)) * 1000;
}

class BaselineRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
  ) {}

  async register(a: AgentSpec): Promise<void> {
    const key = `${this.prefix}agent:${a.id}`;
    const now = Date.now();
    const p = this.redis.pipeline();
    p.hset(key, {
      id: a.id,
      name: a.id,
      description: '',
      capabilities: JSON.stringify(a.capabilities),
      status: a.status,
      load: a.load,
      maxLoad: a.maxLoad,
      healthScore: a.healthScore,
      registeredAt: now,
      lastHeartbeatAt: now,
      metadata: '{}',
    });
    p.expire(key, this.ttlSeconds);
    for (const c of a.capabilities) p.sadd(`${this.prefix}capability:${c}`, a.id);
    p.sadd(`${this.prefix}agent_status:${a.status}`, a.id);
    await p.exec();
  }

  async find(capability: string): Promise<string[]> {
    const ids = await this.redis.smembers(`${this.prefix}capability:${capability}`);
    const p = this.redis.pipeline();
    for (const id of ids) p.hgetall(`${this.prefix}agent:${id}`);
    const replies = (await p.exec()) ?? [];
    const matches: { id: string; ratio: number }[] = [];
    for (const [err, value] of replies) {
      const h = value as Record<string, string> | null;
      if (err || !h || h.id === undefined) continue; // expired: the hash is gone
      const ratio = Number(h.load) / Number(h.maxLoad);
      if (
        ACCEPTING.has(h.status ?? '') &&
        Number(h.healthScore) >= FILTERS.minHealthScore &&
        ratio <= FILTERS.maxLoadRatio
      ) {
        matches.push({ id: h.id, ratio });
      }
    }
    matches.sort((x, y) => x.ratio - y.ratio || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    return matches.slice(0, FILTERS.limit).map((m) => m.id);
  }
}

async function oneRep(
  rep: number,
  agents: AgentSpec[],
  options: BenchOptions,
  queries: number,
  rate: number,
): Promise<{
  ours: Record<string, number>;
  base: Record<string, number>;
  match: boolean;
  lag: number;
  baseRate: number;
  baseQueries: number;
  ping: readonly [number, number];
}> {
  const stamp = `${process.pid}-${Date.now().toString(36)}-${rep}`;
  const oursPrefix = `sybench:disc:ours:${stamp}:`;
  const basePrefix = `sybench:disc:base:${stamp}:`;
  const config = new ConfigService(
    loadConfig({ REDIS_URL: options.redisUrl, REDIS_KEY_PREFIX: oursPrefix, LOG_LEVEL: 'warn' }),
  );
  const redisService = new RedisService(config);
  await redisService.onModuleInit();
  const service = new DiscoveryService(
    new AgentRegistryRepository(redisService),
    config,
    new EventsService(),
    new MetricsService(),
  );
  const raw = new Redis(options.redisUrl, { maxRetriesPerRequest: 1 });
  const baseline = new BaselineRegistry(raw, basePrefix, config.discovery.heartbeatTtlSeconds);
  const capOf = (i: number) => `cap-${(i * 7919) % CAPABILITIES}`;
  try {
    progress(`rep ${rep}: registering ${agents.length} agents (ours)`);
    const oursRegister = await closedLoop(agents, REGISTER_CONCURRENCY, (a) =>
      service.register({
        id: a.id,
        capabilities: a.capabilities,
        status: a.status,
        load: a.load,
        maxLoad: a.maxLoad,
        healthScore: a.healthScore,
      }),
    );
    progress(`rep ${rep}: registering ${agents.length} agents (baseline)`);
    const baseRegister = await closedLoop(agents, REGISTER_CONCURRENCY, (a) =>
      baseline.register(a),
    );

    const ours = (i: number): Promise<AgentRecord[]> =>
      service.find({ capability: capOf(i), status: FIND_STATUSES, ...FILTERS });
    // Same answers from both (also the warm-up), timing the baseline's sequential service time.
    let match = true;
    let baseBusyMs = 0;
    const warmup = 200;
    for (let i = 0; i < warmup; i++) {
      const a = await ours(i);
      const t = nowMs();
      const b = await baseline.find(capOf(i));
      baseBusyMs += nowMs() - t;
      if (a.map((r) => r.id).join() !== b.join()) match = false;
    }
    // The baseline runs open loop too, at the same rate when it can sustain it; otherwise at the
    // rate that keeps it about 30 % busy (beyond that its latency is only queueing), for at most ~15 s.
    const sustainable = Math.max(1, Math.floor((0.3 * 1000 * warmup) / baseBusyMs));
    const baseRate = Math.min(rate, sustainable);
    const baseQueries = Math.min(queries, baseRate * 15);

    progress(`rep ${rep}: ${queries} finds at ${rate}/s (ours)`);
    const o = await openLoop(queries, rate, ours);
    progress(`rep ${rep}: ${baseQueries} finds at ${baseRate}/s (baseline)`);
    const b = await openLoop(baseQueries, baseRate, (i) => baseline.find(capOf(i)));
    // The floor this machine allows: a bare PING at the same arrival rate.
    const floor = await openLoop(Math.min(queries, rate * 3), rate, () => raw.ping());
    const result = {
      ours: {
        register_per_s: round(oursRegister, 0),
        find_p50_ms: o.percentileMs(50),
        find_p99_ms: o.percentileMs(99),
      },
      base: {
        register_per_s: round(baseRegister, 0),
        find_p50_ms: b.percentileMs(50),
        find_p99_ms: b.percentileMs(99),
      },
      match,
      lag: round(Math.max(o.maxLagMs, b.maxLagMs), 2),
      baseRate,
      baseQueries,
      ping: [floor.percentileMs(50), floor.percentileMs(99)] as const,
    };
    progress(
      `rep ${rep}: ours ${JSON.stringify(result.ours)} baseline ${JSON.stringify(result.base)}`,
    );
    return result;
  } finally {
    await deleteKeys(raw, oursPrefix);
    await deleteKeys(raw, basePrefix);
    raw.disconnect();
    await redisService.onApplicationShutdown();
  }
}

export const discoveryScenario: Scenario = async (options): Promise<BenchReport> => {
  Logger.overrideLogger(['error']);
  const size = options.size ?? 10_000;
  const queries = Number(options.flags.queries ?? 10_000);
  const rate = Number(options.flags.rate ?? 1000);
  const agents = makeAgents(size);
  const ours: Record<string, number>[] = [];
  const base: Record<string, number>[] = [];
  let allMatch = true;
  let maxLag = 0;
  const baseRates: number[] = [];
  const baseQueryCounts: number[] = [];
  const pings: Record<string, number>[] = [];
  for (let rep = 1; rep <= options.reps; rep++) {
    const r = await oneRep(rep, agents, options, queries, rate);
    ours.push(r.ours);
    base.push(r.base);
    allMatch &&= r.match;
    maxLag = Math.max(maxLag, r.lag);
    baseRates.push(r.baseRate);
    baseQueryCounts.push(r.baseQueries);
    pings.push({ p50: r.ping[0], p99: r.ping[1] });
  }
  const results = medianOf(ours);
  const baseline = medianOf(base);
  return {
    scenario: 'discovery',
    size,
    reps: options.reps,
    results,
    baseline,
    ratio: ratios(results, baseline, ['register_per_s', 'find_p50_ms', 'find_p99_ms']),
    goals: { 'find_p99_ms<=5': (results.find_p99_ms ?? Infinity) <= 5 },
    conditions: {
      agents: size,
      capabilities: CAPABILITIES,
      capabilities_per_agent: CAPS_PER_AGENT,
      register_concurrency: REGISTER_CONCURRENCY,
      find_queries: queries,
      find_rate_per_s: rate,
      find_filters: { ...FILTERS, status: FIND_STATUSES },
      baseline_find_rate_per_s: baseRates,
      baseline_find_queries: baseQueryCounts,
      same_answers_as_baseline: allMatch,
      ping_same_rate_ms: medianOf(pings),
      max_schedule_lag_ms: maxLag,
      latency: 'open loop at a fixed arrival rate, measured per query from issue to reply',
    },
  };
};
