import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import type Redis from 'ioredis';
import { ConfigService } from '../config/config.service';
import { defineLuaCommands, RedisService } from '../redis/redis.service';
import { evictionPolicyVerdict } from './eviction-policy.util';
import { QueueKeys } from './queue-keys';
import { parseScriptResult, type ScriptResult } from './script-result';
import { buildInputs, decodeTask, type DependencyInfo, flatToObject } from './task-record.codec';
import {
  type AttemptRecord,
  type RetryPolicyConfig,
  type TaskRecord,
  TaskStatus,
} from './task.types';

/** The Lua commands of commands/ (defined on the queue connection). */
interface QueueCommands {
  enqueue(base: string, input: string, now: number): Promise<string>;
  start(
    base: string,
    agentKey: string,
    expiryKey: string,
    id: string,
    gen: string,
    now: number,
    graceMs: number,
    agent: string,
    prefix: string,
  ): Promise<[string[], string[], number, string, number[]] | null>;
  complete(
    base: string,
    id: string,
    attempt: number,
    result: string,
    now: number,
    agent: string,
    usd: number,
    tin: number,
    tout: number,
  ): Promise<string>;
  fail(
    base: string,
    id: string,
    attempt: number,
    mode: FailMode,
    error: string,
    due: number,
    reason: string,
    now: number,
    agent: string,
    usd: number,
    tin: number,
    tout: number,
  ): Promise<string>;
  cancel(
    base: string,
    what: 'task' | 'workflow',
    id: string,
    reason: string,
    now: number,
  ): Promise<string>;
  requeue(base: string, id: string, now: number): Promise<string>;
  claimSlot(
    base: string,
    agentKey: string,
    expiryKey: string,
    id: string,
    attempt: number,
    agent: string,
    prefix: string,
    mode: 'claim' | 'release',
  ): Promise<number[]>;
  blockedEdges(
    base: string,
    mode: 'edges' | 'verify',
    ...ids: string[]
  ): Promise<(string | number)[] | number>;
  purge(base: string, ids: string): Promise<string>;
  park(base: string, id: string, attempt: number, reason: string, now: number): Promise<string>;
  unpark(
    base: string,
    mode: 'capability' | 'expired',
    cap: string,
    now: number,
    limit: number,
  ): Promise<string>;
}

export type FailMode = 'retry' | 'defer' | 'fail' | 'lost';

/** Cost of one attempt as the executor reported it. */
export interface AttemptCost {
  usd?: number;
  inputTokens?: number;
  outputTokens?: number;
}

/** A task the start script marked RUNNING, with its dependencies' results as inputs. */
export interface StartedTask {
  task: TaskRecord;
  redelivered: boolean;
  /** When it became READY (ms), for the dispatch-latency metric. */
  readyAt?: number;
  /** The slot the start took on the agent the caller named (absent: none taken). */
  slot?: { agentId: string; load: number; maxLoad: number };
}

/**
 * A slot claim: `claimed` (the attempt holds one slot on the agent, load/maxLoad after it), `full`
 * (the agent refused: unknown, expired, not accepting work or full) or `stale` (the task is no
 * longer RUNNING with that attempt, or the attempt already holds a slot).
 */
export type SlotClaim =
  { kind: 'claimed'; load: number; maxLoad: number } | { kind: 'full' } | { kind: 'stale' };

/** An attempt's cost as the scripts take it: USD, input tokens, output tokens. */
const costArgs = (cost: AttemptCost): [number, number, number] => [
  cost.usd ?? 0,
  cost.inputTokens ?? 0,
  cost.outputTokens ?? 0,
];

/** The dependency fields read to build inputs. */
const DEP_FIELDS = ['ref', 'wf', 'status', 'result'] as const;

/** Where the Lua files are: beside this file (Jest/swc) and in dist/ (copied by the build). */
const COMMANDS_DIR = join(__dirname, 'commands');

/**
 * The task store: the queue's only access to Redis. It owns the queue's connection, runs the Lua
 * scripts (one typed method per script) and reads records and indexes. Rules live in the services.
 *
 * Longer than the ~500 lines the codebase aims for, on purpose: being the single place that
 * touches the queue's keys is the point (a reader checks every Redis access of the queue here,
 * against redis-schema.md), and each method is a thin typed wrapper of one script or read.
 */
@Injectable()
export class TaskStore implements OnModuleInit {
  private readonly logger = new Logger(TaskStore.name);
  private conn!: Redis & QueueCommands;
  readonly keys: QueueKeys;
  /** The retry policy of a task that overrides nothing (QUEUE_RETRY_*). */
  readonly retryDefaults: RetryPolicyConfig;

  constructor(
    private readonly config: ConfigService,
    private readonly redis: RedisService,
  ) {
    this.keys = new QueueKeys(redis.key('q', config.queue.name) + ':');
    const q = config.queue;
    this.retryDefaults = {
      maxRetries: q.retryMaxRetries,
      baseDelayMs: q.retryBaseDelayMs,
      maxDelayMs: q.retryMaxDelayMs,
      jitter: [q.retryJitterMin, q.retryJitterMax],
    };
  }

  get base(): string {
    return this.keys.base;
  }

  async onModuleInit(): Promise<void> {
    if (!existsSync(COMMANDS_DIR)) {
      throw new Error(
        `queue Lua scripts not found at ${COMMANDS_DIR} (did the build copy the assets?)`,
      );
    }
    this.conn = this.redis.createConnection({
      name: 'switchyard-queue',
      // Concurrent callers' scripts issued in the same tick go out in one write.
      enableAutoPipelining: true,
    }) as Redis & QueueCommands;
    defineLuaCommands(this.conn, COMMANDS_DIR);
    await this.checkEvictionPolicy();
  }

  /** A dedicated subscriber connection (pub/sub channels of the queue). */
  subscriber(): Redis {
    return this.redis.createConnection({
      name: 'switchyard-queue-sub',
      maxRetriesPerRequest: null,
      commandTimeout: undefined,
    });
  }

  /** Redis must not evict queue data: refuse to start unless maxmemory-policy is noeviction. */
  private async checkEvictionPolicy(): Promise<void> {
    let policy: string | undefined;
    try {
      const reply = await this.conn.config('GET', 'maxmemory-policy');
      policy = reply[1];
    } catch (e) {
      this.logger.warn(`could not read Redis maxmemory-policy: ${(e as Error).message}`);
      return;
    }
    const { verdict, message } = evictionPolicyVerdict(policy, this.config.redis.allowEviction);
    if (verdict === 'refuse') throw new Error(message);
    if (verdict === 'warn') this.logger.warn(message);
  }

  // ------------------------------------------------------------------ replication

  /** Whether acknowledged writes wait for replicas (REDIS_MIN_REPLICAS_ACK > 0). */
  get replicated(): boolean {
    return this.redis.replicaAck.enabled;
  }

  /**
   * Returns once REDIS_MIN_REPLICAS_ACK replicas have every write this connection made (throws
   * ReplicationTimeoutError, a 503, otherwise). `replay`: the caller wrote nothing itself (it
   * found an earlier record or outcome), so a barrier write makes WAIT cover what the master has.
   */
  async confirmReplicated(
    what: string,
    details: Record<string, unknown> = {},
    replay = false,
  ): Promise<void> {
    await this.redis.replicaAck.confirm(this.conn, what, {
      details,
      barrierKey: replay ? `${this.base}wait-barrier` : undefined,
    });
  }

  // ------------------------------------------------------------------ scripts

  async enqueue(input: unknown, now = Date.now()): Promise<ScriptResult> {
    return parseScriptResult(await this.conn.enqueue(this.base, JSON.stringify(input), now));
  }

  /**
   * Marks the task of a job RUNNING; undefined for a stale job. `agentId`: also take a slot on
   * that agent for the attempt, in the same script (see commands/start-3.lua).
   */
  async start(
    taskId: string,
    gen: string,
    graceMs: number,
    now = Date.now(),
    agentId = '',
  ): Promise<StartedTask | undefined> {
    const res = await this.conn.start(
      this.base,
      this.redis.key('agent', agentId),
      this.redis.key('agent_expiry'),
      taskId,
      gen,
      now,
      graceMs,
      agentId,
      this.redis.prefix,
    );
    if (!res) return undefined;
    const [flat, depFlat, redelivered, budgetLeft, slot] = res;
    const h = flatToObject(flat);
    const deps: DependencyInfo[] = [];
    for (let i = 0; i + 4 < depFlat.length; i += 5)
      deps.push(depFlat.slice(i, i + 5) as DependencyInfo);
    const task = decodeTask(h, buildInputs(h.wf || undefined, deps), this.retryDefaults);
    if (budgetLeft) task.budgetLeftUsd = Math.max(0, Number(budgetLeft));
    if (h.tp) task.traceContext = { traceparent: h.tp, ...(h.ts ? { tracestate: h.ts } : {}) };
    return {
      task,
      redelivered: redelivered === 1,
      readyAt: h.readyAt ? Number(h.readyAt) : undefined,
      ...(slot && slot.length === 2
        ? { slot: { agentId, load: Number(slot[0]), maxLoad: Number(slot[1]) } }
        : {}),
    };
  }

  async complete(
    id: string,
    attempt: number,
    resultJson: string,
    agent: string,
    cost: AttemptCost = {},
    now = Date.now(),
  ): Promise<ScriptResult> {
    return parseScriptResult(
      await this.conn.complete(this.base, id, attempt, resultJson, now, agent, ...costArgs(cost)),
    );
  }

  async fail(
    id: string,
    attempt: number,
    mode: FailMode,
    errorJson: string,
    due: number,
    reason: string,
    agent: string,
    cost: AttemptCost = {},
    now = Date.now(),
  ): Promise<ScriptResult> {
    return parseScriptResult(
      await this.conn.fail(
        this.base,
        id,
        attempt,
        mode,
        errorJson,
        due,
        reason,
        now,
        agent,
        ...costArgs(cost),
      ),
    );
  }

  async cancel(
    what: 'task' | 'workflow',
    id: string,
    reason: string,
    now = Date.now(),
  ): Promise<ScriptResult> {
    return parseScriptResult(await this.conn.cancel(this.base, what, id, reason, now));
  }

  async requeue(id: string, now = Date.now()): Promise<ScriptResult> {
    return parseScriptResult(await this.conn.requeue(this.base, id, now));
  }

  /**
   * Takes one slot on `agentId` for the RUNNING attempt and records it (and the agent) on the task,
   * in one script (commands/claim-slot-3.lua). The script that ends the attempt gives it back.
   * `release`: gives it back without ending the attempt.
   */
  async claimSlot(
    id: string,
    attempt: number,
    agentId: string,
    mode: 'claim' | 'release' = 'claim',
  ): Promise<SlotClaim> {
    const [code, load, maxLoad] = await this.conn.claimSlot(
      this.base,
      this.redis.key('agent', agentId),
      this.redis.key('agent_expiry'),
      id,
      attempt,
      agentId,
      this.redis.prefix,
      mode,
    );
    if (code === 1) return { kind: 'claimed', load: Number(load), maxLoad: Number(maxLoad) };
    return code === -1 ? { kind: 'stale' } : { kind: 'full' };
  }

  /** Parks a RUNNING attempt no live agent can take (see commands/park-1.lua). */
  async park(id: string, attempt: number, reason: string, now = Date.now()): Promise<ScriptResult> {
    return parseScriptResult(await this.conn.park(this.base, id, attempt, reason, now));
  }

  /** Releases the parked tasks of a capability, or fails those whose wait timed out. */
  async unpark(
    mode: 'capability' | 'expired',
    capability: string,
    limit = 1000,
    now = Date.now(),
  ): Promise<ScriptResult & { released?: number }> {
    return parseScriptResult(await this.conn.unpark(this.base, mode, capability, now, limit));
  }

  /** Capabilities that have parked tasks. */
  parkedCapabilities(): Promise<string[]> {
    return this.conn.smembers(`${this.base}parkedcaps`);
  }

  /** Removes archived terminal tasks (see commands/purge-1.lua); returns those removed. */
  async purge(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const res = JSON.parse(await this.conn.purge(this.base, JSON.stringify(ids))) as {
      purged: string[] | Record<string, never>;
    };
    return Array.isArray(res.purged) ? res.purged : [];
  }

  /** Members by rank from the lowest score (oldest first). */
  oldest(key: string, count: number): Promise<string[]> {
    return this.conn.zrange(key, '0', String(count - 1));
  }

  cardinality(key: string): Promise<number> {
    return this.conn.zcard(key);
  }

  /** BLOCKED tasks through which a dependency cycle may have closed (see enqueue-1.lua). */
  suspects(): Promise<string[]> {
    return this.conn.smembers(this.keys.suspects);
  }

  /** Wait-for edges among BLOCKED tasks, for a bounded batch of ids (blocked-edges-1.lua). */
  async blockedEdges(ids: string[]): Promise<Map<string, string[]>> {
    const flat = (await this.conn.blockedEdges(this.base, 'edges', ...ids)) as (string | number)[];
    const out = new Map<string, string[]>();
    for (let i = 0; i < flat.length;) {
      const n = Number(flat[i + 1]);
      out.set(String(flat[i]), flat.slice(i + 2, i + 2 + n).map(String));
      i += 2 + n;
    }
    return out;
  }

  /** Is `ids` still a cycle of BLOCKED tasks (each waiting for the next)? Atomic. */
  async isCycle(ids: string[]): Promise<boolean> {
    return (await this.conn.blockedEdges(this.base, 'verify', ...ids)) === 1;
  }

  // ------------------------------------------------------------------ records

  async findRaw(id: string): Promise<Record<string, string> | undefined> {
    const h = await this.conn.hgetall(this.keys.task(id));
    return h.id ? h : undefined;
  }

  /** One task with its inputs (its COMPLETED dependencies' results) and its attempt history. */
  async findTask(id: string): Promise<TaskRecord | undefined> {
    const [h, rawAttempts] = await Promise.all([
      this.findRaw(id),
      this.conn.lrange(`${this.keys.task(id)}:attempts`, 0, -1),
    ]);
    if (!h) return undefined;
    const deps = JSON.parse(h.deps ?? '[]') as string[];
    const info = await this.dependencyInfo(deps);
    const task = decodeTask(
      h,
      deps.length > 0
        ? buildInputs(
            h.wf || undefined,
            deps.map((d) => info.get(d)!),
          )
        : undefined,
      this.retryDefaults,
    );
    const attempts = withCompletedAttempt(h, rawAttempts.map(decodeAttempt));
    if (attempts.length > 0) task.attempts = attempts;
    return task;
  }

  async fields(id: string, ...names: string[]): Promise<(string | null)[]> {
    return this.conn.hmget(this.keys.task(id), ...names);
  }

  async setFields(id: string, values: Record<string, string | number>): Promise<void> {
    await this.conn.hset(this.keys.task(id), values);
  }

  /** Records without inputs, in the order of `ids` (missing ones skipped). */
  async loadMany(ids: string[]): Promise<TaskRecord[]> {
    if (ids.length === 0) return [];
    const p = this.conn.pipeline();
    for (const id of ids) p.hgetall(this.keys.task(id));
    const rows = (await p.exec()) ?? [];
    const out: TaskRecord[] = [];
    for (const [err, h] of rows) {
      if (err) throw err;
      const rec = h as Record<string, string>;
      if (rec.id) out.push(decodeTask(rec, undefined, this.retryDefaults));
    }
    return out;
  }

  /** id → [id, ref, wf, status, result] of each dependency, one pipeline. */
  async dependencyInfo(deps: string[]): Promise<Map<string, DependencyInfo>> {
    const info = new Map<string, DependencyInfo>();
    if (deps.length === 0) return info;
    const p = this.conn.pipeline();
    for (const d of deps) p.hmget(this.keys.task(d), ...DEP_FIELDS);
    const rows = (await p.exec()) ?? [];
    deps.forEach((d, i) => {
      const r = (rows[i]?.[1] ?? []) as (string | null)[];
      info.set(d, [d, r[0] ?? '', r[1] ?? '', r[2] ?? '', r[3] ?? '']);
    });
    return info;
  }

  async workflowRaw(id: string): Promise<Record<string, string> | undefined> {
    const h = await this.conn.hgetall(this.keys.workflow(id));
    return h.id ? h : undefined;
  }

  // ------------------------------------------------------------------ indexes

  /** `[member, score]` pairs of a sorted set from `min` (exclusive form allowed), ascending. */
  async rangeByScore(
    key: string,
    min: string,
    max: string,
    limit: number,
  ): Promise<[string, number][]> {
    const flat = await this.conn.zrangebyscore(key, min, max, 'WITHSCORES', 'LIMIT', 0, limit);
    const out: [string, number][] = [];
    for (let i = 0; i < flat.length; i += 2) out.push([flat[i], Number(flat[i + 1])]);
    return out;
  }

  /**
   * `[member, score]` pairs above `min` (exclusive form allowed) across sorted sets that share
   * one score space, ascending, at most `limit`. One MULTI: a member moving from one set to
   * another meanwhile is seen exactly once.
   */
  async rangeByScoreMerged(
    keys: string[],
    min: string,
    limit: number,
  ): Promise<[string, number][]> {
    const m = this.conn.multi();
    for (const k of keys) m.zrangebyscore(k, min, '+inf', 'WITHSCORES', 'LIMIT', 0, limit);
    const seen = new Set<string>();
    const out: [string, number][] = [];
    for (const [err, flat] of (await m.exec()) ?? []) {
      if (err) throw err;
      const f = flat as string[];
      for (let i = 0; i < f.length; i += 2) {
        if (seen.has(f[i])) continue;
        seen.add(f[i]);
        out.push([f[i], Number(f[i + 1])]);
      }
    }
    return out.sort((a, b) => a[1] - b[1]).slice(0, limit);
  }

  /** Members above `minExclusive` summed over `keys` (one MULTI). */
  async countAboveMerged(keys: string[], minExclusive: string): Promise<number> {
    const m = this.conn.multi();
    for (const k of keys) m.zcount(k, minExclusive, '+inf');
    let n = 0;
    for (const [err, v] of (await m.exec()) ?? []) {
      if (err) throw err;
      n += Number(v);
    }
    return n;
  }

  /** Members with a score up to `max`, ascending, at most `limit`. */
  membersUpTo(key: string, max: number, limit: number): Promise<string[]> {
    return this.conn.zrangebyscore(key, '-inf', max, 'LIMIT', 0, limit);
  }

  /** `[member, score]` pairs, highest score first, below `maxExclusive` when given. */
  async rangeByScoreDesc(
    key: string,
    maxExclusive: number | undefined,
    limit: number,
  ): Promise<[string, number][]> {
    const max = maxExclusive === undefined ? '+inf' : `(${maxExclusive}`;
    const flat = await this.conn.zrevrangebyscore(
      key,
      max,
      '-inf',
      'WITHSCORES',
      'LIMIT',
      0,
      limit,
    );
    const out: [string, number][] = [];
    for (let i = 0; i < flat.length; i += 2) out.push([flat[i], Number(flat[i + 1])]);
    return out;
  }

  countAbove(key: string, minExclusive: string): Promise<number> {
    return this.conn.zcount(key, minExclusive, '+inf');
  }

  members(key: string): Promise<string[]> {
    return this.conn.zrange(key, '0', '-1');
  }

  async removeMembers(key: string, members: string[]): Promise<void> {
    if (members.length > 0) await this.conn.zrem(key, ...members);
  }

  async removeFromSet(key: string, members: string[]): Promise<void> {
    if (members.length > 0) await this.conn.srem(key, ...members);
  }

  /** ZCARD of each key, one pipeline. */
  async cardinalities(keys: string[]): Promise<number[]> {
    const p = this.conn.pipeline();
    for (const k of keys) p.zcard(k);
    return ((await p.exec()) ?? []).map(([e, v]) => {
      if (e) throw e;
      return Number(v);
    });
  }

  /** Field values of many tasks, one pipeline. */
  async fieldsOfMany(ids: string[], ...names: string[]): Promise<(string | null)[][]> {
    if (ids.length === 0) return [];
    const p = this.conn.pipeline();
    for (const id of ids) p.hmget(this.keys.task(id), ...names);
    return ((await p.exec()) ?? []).map(([e, v]) => {
      if (e) throw e;
      return v as (string | null)[];
    });
  }

  /** Asks the scripts to publish on ch:done when this task ends (see waitForTerminal). */
  async watch(id: string): Promise<void> {
    await this.conn.hset(this.keys.task(id), 'watch', '1');
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.conn.publish(channel, message);
  }
}

/**
 * The history with the completing attempt: recordAttempt keeps no list for a task whose only
 * attempt completed, so that attempt comes from the record's own fields (the attempt, its agent,
 * its start and the task's end). Lists written before that already hold it: not added twice.
 */
function withCompletedAttempt(
  h: Record<string, string>,
  attempts: AttemptRecord[],
): AttemptRecord[] {
  if (h.status !== String(TaskStatus.Completed)) return attempts;
  const attempt = Number(h.attempt ?? 0);
  if (attempts.some((a) => a.outcome === 'completed' && a.attempt === attempt)) return attempts;
  const at = (ms: string | undefined) => (ms ? new Date(Number(ms)).toISOString() : undefined);
  const startedAt = at(h.started);
  return [
    ...attempts,
    {
      attempt,
      ...(h.agent ? { agentId: h.agent } : {}),
      ...(startedAt ? { startedAt } : {}),
      endedAt: at(h.finished) ?? at(h.updated)!,
      outcome: 'completed',
    },
  ];
}

/** One entry of t:<id>:attempts (see task-lib.lua recordAttempt). */
function decodeAttempt(json: string): AttemptRecord {
  const a = JSON.parse(json) as {
    attempt: number;
    agent?: string;
    startedAt?: number;
    endedAt: number;
    outcome: string;
    errorType?: string;
  };
  return {
    attempt: a.attempt,
    ...(a.agent ? { agentId: a.agent } : {}),
    ...(a.startedAt ? { startedAt: new Date(a.startedAt).toISOString() } : {}),
    endedAt: new Date(a.endedAt).toISOString(),
    outcome: a.outcome,
    ...(a.errorType ? { errorType: a.errorType } : {}),
  };
}
