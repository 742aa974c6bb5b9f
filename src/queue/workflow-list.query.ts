import { Injectable } from '@nestjs/common';
import { z } from 'zod';
import { AppException } from '../common/errors/app.exception';
import { decodeCursor, encodeCursor, type Page, paginationQuery } from '../common/http/pagination';
import { RedisService } from '../redis/redis.service';
import { costOf } from './task-record.codec';
import { TaskQueueService } from './task-queue.service';
import type { TaskCost } from './task.types';

/** Upper-cases strings so enum filters accept `failed` as well as `FAILED`. */
const upper = (v: unknown): unknown => (typeof v === 'string' ? v.toUpperCase() : v);
const lower = (v: unknown): unknown => (typeof v === 'string' ? v.toLowerCase() : v);

export const RUN_STATUSES = [
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'BLOCKED',
  'READY',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

const isoTime = z.iso
  .datetime({ offset: true, error: 'must be an ISO 8601 date-time, e.g. 2026-12-01T10:00:00Z' })
  .transform((s) => Date.parse(s));

export const listRunsQuerySchema = z.strictObject({
  kind: z
    .preprocess(lower, z.enum(['workflow', 'task', 'all']))
    .default('workflow')
    .describe('workflow (default), task (standalone tasks, not part of a workflow) or all'),
  status: z
    .preprocess(upper, z.enum(RUN_STATUSES))
    .optional()
    .describe('Run status (case-insensitive); a standalone task run has its task status'),
  name: z.string().min(1).max(200).optional().describe('Part of the name (case-insensitive)'),
  q: z.string().min(1).max(200).optional().describe('Part of the id or the name'),
  since: isoTime.optional().describe('Created at or after this time (ISO 8601)'),
  until: isoTime.optional().describe('Created at or before this time (ISO 8601)'),
  ...paginationQuery,
});
export type ListRunsQuery = z.infer<typeof listRunsQuerySchema>;

/** One row of the runs list: a workflow, or a task submitted on its own. */
export interface RunSummary {
  kind: 'workflow' | 'task';
  id: string;
  /** Workflow name, or the standalone task's description (else its capability). */
  name?: string;
  status: RunStatus;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  /** finishedAt (or now, while it runs) minus createdAt. */
  durationMs: number;
  /** Task counts by state; `active` = not yet finished (blocked, ready or running). */
  counts: { total: number; completed: number; failed: number; cancelled: number; active: number };
  /** What its tasks (and their delegated children) cost, once executors reported any. */
  cost?: TaskCost;
  /** Standalone tasks only. */
  capability?: string;
  agentId?: string;
  attempt?: number;
}

const WF_FIELDS = [
  'id',
  'name',
  'status',
  'total',
  'completed',
  'failed',
  'cancelled',
  'created',
  'updated',
  'finished',
  // A workflow's cost (all its tasks and their delegated children) is in c*, a task tree's in t*.
  'cUsd',
  'cIn',
  'cOut',
];
const TASK_FIELDS = [
  'id',
  'status',
  'cap',
  'desc',
  'created',
  'updated',
  'finished',
  'agent',
  'wf',
  'attempt',
  'tUsd',
  'tIn',
  'tOut',
];

/** Members read from the index per round trip. */
const BATCH = 500;

/**
 * The runs list behind `GET /v1/workflows`: reads the `runs` index (a sorted set written by
 * enqueue-1.lua, member `w:<workflowId>` or `t:<taskId>`, score = submission sequence) newest
 * first. A page costs O(log n + scanned) whatever the number of runs: the cursor is the score of
 * the last row returned, and a filtered scan stops after a budget of rows (returning a cursor to
 * go on) so a rare filter never reads all 100k runs in one request.
 */
@Injectable()
export class WorkflowListQuery {
  constructor(
    private readonly redis: RedisService,
    private readonly queue: TaskQueueService,
  ) {}

  async list(q: ListRunsQuery, now = Date.now()): Promise<Page<RunSummary>> {
    const raw = decodeCursor(q.cursor);
    if (raw !== undefined && !/^\d+$/.test(raw)) {
      throw AppException.validation('Invalid cursor', [
        { field: 'cursor', message: 'not a cursor from a previous page' },
      ]);
    }
    if (q.since !== undefined && q.until !== undefined && q.since > q.until) {
      throw AppException.validation('since is after until', [
        { field: 'since', message: 'must not be after until' },
      ]);
    }
    const client = this.redis.client;
    const key = this.queue.base + 'runs';
    const base = this.queue.base;
    const name = q.name?.toLowerCase();
    const text = q.q?.toLowerCase();
    const items: RunSummary[] = [];
    let max = raw === undefined ? '+inf' : `(${raw}`;
    let scanned = 0;
    const budget = Math.max(q.limit * 50, 5000);
    while (scanned < budget) {
      const batch = await client.zrevrangebyscore(
        key,
        max,
        '-inf',
        'WITHSCORES',
        'LIMIT',
        0,
        BATCH,
      );
      if (batch.length === 0) return { items, nextCursor: null };
      const members: string[] = [];
      const scores: string[] = [];
      for (let i = 0; i < batch.length; i += 2) {
        members.push(batch[i]);
        scores.push(batch[i + 1]);
      }
      const p = client.pipeline();
      for (const m of members) {
        const isWf = m.startsWith('w:');
        if (q.kind !== 'all' && (q.kind === 'workflow') !== isWf) p.echo('');
        else if (isWf) p.hmget(base + m, ...WF_FIELDS);
        else p.hmget(base + m, ...TASK_FIELDS);
      }
      const rows = (await p.exec()) ?? [];
      for (let i = 0; i < members.length; i++) {
        scanned++;
        max = `(${scores[i]}`;
        const [err, value] = rows[i] ?? [null, null];
        if (err) throw err;
        if (!Array.isArray(value)) continue;
        const run = members[i].startsWith('w:')
          ? toWorkflowRun(value as (string | null)[], now)
          : toTaskRun(value as (string | null)[], now);
        if (!run) {
          // Archived by retention (the hash is gone): drop it from the index too.
          if (value.every((v) => v === null)) await client.zrem(key, members[i]);
          continue;
        }
        const created = Date.parse(run.createdAt);
        // Newest first: once past `since`, nothing older can match.
        if (q.since !== undefined && created < q.since) return { items, nextCursor: null };
        if (q.until !== undefined && created > q.until) continue;
        if (q.status !== undefined && run.status !== q.status) continue;
        const runName = run.name?.toLowerCase() ?? '';
        if (name !== undefined && !runName.includes(name)) continue;
        if (text !== undefined && !runName.includes(text) && !run.id.toLowerCase().includes(text))
          continue;
        items.push(run);
        if (items.length === q.limit) {
          const more = await client.zcount(key, '-inf', max);
          return { items, nextCursor: more > 0 ? encodeCursor(scores[i]) : null };
        }
      }
      if (members.length < BATCH) return { items, nextCursor: null };
    }
    // Budget spent on rows the filters refused: hand back what was found and where to go on.
    return { items, nextCursor: encodeCursor(max.slice(1)) };
  }
}

const iso = (ms: string | null | undefined): string | undefined =>
  ms ? new Date(Number(ms)).toISOString() : undefined;

function duration(created: string, finished: string | undefined, now: number): number {
  return Math.max(0, (finished ? Date.parse(finished) : now) - Date.parse(created));
}

function toWorkflowRun(v: (string | null)[], now: number): RunSummary | undefined {
  const [id, name, status, total, completed, failed, cancelled, created, updated, finished] = v;
  const cost = costOf(v[10] ?? undefined, v[11] ?? undefined, v[12] ?? undefined);
  if (!id || !created) return undefined; // removed by retention
  const counts = {
    total: Number(total ?? 0),
    completed: Number(completed ?? 0),
    failed: Number(failed ?? 0),
    cancelled: Number(cancelled ?? 0),
    active: 0,
  };
  counts.active = Math.max(0, counts.total - counts.completed - counts.failed - counts.cancelled);
  const createdAt = iso(created)!;
  const finishedAt = iso(finished);
  const run: RunSummary = {
    kind: 'workflow',
    id,
    name: name || undefined,
    status: (status === 'CANCELLING' ? 'RUNNING' : status) as RunStatus,
    createdAt,
    updatedAt: iso(updated) ?? createdAt,
    finishedAt,
    durationMs: duration(createdAt, finishedAt, now),
    counts,
    cost,
  };
  return prune(run);
}

function toTaskRun(v: (string | null)[], now: number): RunSummary | undefined {
  const [id, status, cap, desc, created, updated, finished, agent, wf, attempt] = v;
  const cost = costOf(v[10] ?? undefined, v[11] ?? undefined, v[12] ?? undefined);
  if (!id || !created || wf) return undefined;
  const st = (status === 'NEW' ? 'BLOCKED' : status) as RunStatus;
  const createdAt = iso(created)!;
  const finishedAt = iso(finished);
  const one = (s: RunStatus): number => (st === s ? 1 : 0);
  const run: RunSummary = {
    kind: 'task',
    id,
    name: desc || cap || undefined,
    status: st,
    createdAt,
    updatedAt: iso(updated) ?? createdAt,
    finishedAt,
    durationMs: duration(createdAt, finishedAt, now),
    counts: {
      total: 1,
      completed: one('COMPLETED'),
      failed: one('FAILED'),
      cancelled: one('CANCELLED'),
      active: one('BLOCKED') + one('READY') + one('RUNNING'),
    },
    cost,
    capability: cap ?? undefined,
    agentId: agent || undefined,
    attempt: Number(attempt ?? 0),
  };
  return prune(run);
}

function prune(run: RunSummary): RunSummary {
  for (const k of Object.keys(run) as (keyof RunSummary)[]) if (run[k] === undefined) delete run[k];
  return run;
}
