import { Injectable } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import { decodeCursor, encodeCursor, type Page } from '../common/http/pagination';
import { ConfigService } from '../config/config.service';
import { MetricsService } from '../observability/metrics.service';
import { TaskArchiveService } from '../state/task-archive.service';
import { TaskStore } from './task-store.repository';
import { budgetOf, buildInputs, costOf } from './task-record.codec';
import type { ListTasksQuery } from './task.schemas';
import type { TaskBudget, TaskCost, TaskRecord, TaskTreeNode } from './task.types';

export interface WorkflowRecord {
  id: string;
  name?: string;
  status: 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';
  total: number;
  completed: number;
  failed: number;
  cancelled: number;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  idempotencyKey?: string;
  budget?: TaskBudget;
  /** Cost of all its tasks and everything they delegated. */
  cost?: TaskCost;
}

export interface QueueCounts {
  ready: number;
  blocked: number;
  running: number;
  delayed: number;
  completed: number;
  failed: number;
  cancelled: number;
  deadLetter: number;
}

/** Most nodes `GET /v1/tasks/{id}/tree` returns (a tree is bounded by depth × children anyway). */
const MAX_TREE_NODES = 5000;

/** Reads: tasks, task lists, workflows, trees, counts, the dead-letter list. */
@Injectable()
export class TaskQueries {
  constructor(
    private readonly config: ConfigService,
    private readonly store: TaskStore,
    private readonly metrics: MetricsService,
    private readonly archive: TaskArchiveService,
  ) {}

  /** A task from Redis, or from the archive once retention removed it. */
  async findTask(id: string): Promise<TaskRecord | undefined> {
    return (await this.store.findTask(id)) ?? (await this.archive.get<TaskRecord>(id));
  }

  async getTask(id: string): Promise<TaskRecord> {
    const t = await this.findTask(id);
    if (!t) throw AppException.notFound('task', id);
    return t;
  }

  /** Adds each task's inputs (its COMPLETED dependencies' results), one pipeline for all. */
  async withInputs(tasks: TaskRecord[]): Promise<TaskRecord[]> {
    const info = await this.store.dependencyInfo([...new Set(tasks.flatMap((t) => t.dependsOn))]);
    if (info.size === 0) return tasks;
    for (const t of tasks) {
      const inputs = buildInputs(
        t.workflowId,
        t.dependsOn.map((d) => info.get(d)!),
      );
      if (inputs) t.inputs = inputs;
    }
    return tasks;
  }

  /** Tasks filtered by status, agent, workflow and capability, oldest first, cursor-paginated. */
  listTasks(q: ListTasksQuery): Promise<Page<TaskRecord>> {
    const k = this.store.keys;
    // Without a filter: every status index at once (together they hold every task).
    const source = q.workflow
      ? k.workflowTasks(q.workflow)
      : q.status
        ? k.byStatus(q.status)
        : k.statusIndexes;
    return this.scanIndex(
      source,
      q.limit,
      q.cursor,
      (t) =>
        (!q.status || t.status === q.status) &&
        (!q.agent || t.agentId === q.agent) &&
        (!q.capability || t.capability === q.capability),
    );
  }

  deadLetter(limit: number, cursor?: string): Promise<Page<TaskRecord>> {
    return this.scanIndex(this.store.keys.dead, limit, cursor);
  }

  /** Pages through an index (or several sharing the creation-sequence score) in score order. */
  private async scanIndex(
    key: string | string[],
    limit: number,
    cursor: string | undefined,
    keep: (t: TaskRecord) => boolean = () => true,
  ): Promise<Page<TaskRecord>> {
    const raw = decodeCursor(cursor);
    if (raw !== undefined && !/^\d+$/.test(raw)) {
      throw AppException.validation('Invalid cursor', [
        { field: 'cursor', message: 'not a cursor from a previous page' },
      ]);
    }
    const items: TaskRecord[] = [];
    let min = raw === undefined ? '-inf' : `(${raw}`;
    let scanned = 0;
    const budget = Math.max(limit * 20, 2000);
    while (items.length < limit && scanned < budget) {
      const n = Math.min(500, budget);
      const batch =
        typeof key === 'string'
          ? await this.store.rangeByScore(key, min, '+inf', n)
          : await this.store.rangeByScoreMerged(key, min, n);
      if (batch.length === 0) return { items, nextCursor: null };
      const recs = await this.store.loadMany(batch.map(([id]) => id));
      const byId = new Map(recs.map((r) => [r.id, r] as const));
      for (const [id, score] of batch) {
        scanned++;
        const r = byId.get(id);
        min = `(${score}`;
        if (r && keep(r)) {
          items.push(r);
          if (items.length === limit) {
            const more =
              typeof key === 'string'
                ? await this.store.countAbove(key, min)
                : await this.store.countAboveMerged(key, min);
            return { items, nextCursor: more > 0 ? encodeCursor(String(score)) : null };
          }
        }
      }
      if (batch.length < 250) return { items, nextCursor: null };
    }
    return { items, nextCursor: encodeCursor(min.slice(1)) };
  }

  async findWorkflow(id: string): Promise<WorkflowRecord | undefined> {
    const h = await this.store.workflowRaw(id);
    if (!h) return undefined;
    const iso = (v: string | undefined) => (v ? new Date(Number(v)).toISOString() : undefined);
    const wf: WorkflowRecord = {
      id: h.id,
      name: h.name || undefined,
      status: (h.status === 'CANCELLING' ? 'RUNNING' : h.status) as WorkflowRecord['status'],
      total: Number(h.total),
      completed: Number(h.completed),
      failed: Number(h.failed),
      cancelled: Number(h.cancelled),
      createdAt: iso(h.created)!,
      updatedAt: iso(h.updated)!,
      finishedAt: iso(h.finished),
      idempotencyKey: h.idem || undefined,
      budget: budgetOf(h),
      cost: costOf(h.cUsd, h.cIn, h.cOut),
    };
    for (const k of Object.keys(wf) as (keyof WorkflowRecord)[])
      if (wf[k] === undefined) delete wf[k];
    return wf;
  }

  async getWorkflow(id: string): Promise<{ workflow: WorkflowRecord; tasks: TaskRecord[] }> {
    const workflow = await this.findWorkflow(id);
    if (!workflow) throw AppException.notFound('workflow', id);
    const ids = await this.store.members(this.store.keys.workflowTasks(id));
    return { workflow, tasks: await this.withInputs(await this.store.loadMany(ids)) };
  }

  /** The delegation tree under a task, breadth first, one pipeline per level. */
  async getTaskTree(id: string): Promise<TaskTreeNode> {
    const root = await this.getTask(id);
    const node = (t: TaskRecord): TaskTreeNode => {
      const n: TaskTreeNode = {
        id: t.id,
        capability: t.capability,
        status: t.status,
        agentId: t.agentId,
        depth: t.depth ?? 0,
        createdAt: t.createdAt,
        startedAt: t.startedAt,
        completedAt: t.completedAt,
        cost: t.cost,
        treeCost: t.treeCost,
        error: t.error,
        children: [],
      };
      for (const k of Object.keys(n) as (keyof TaskTreeNode)[]) if (n[k] === undefined) delete n[k];
      return n;
    };
    const top = node(root);
    let level = [top];
    let count = 1;
    while (level.length > 0 && count < MAX_TREE_NODES) {
      const childIds = await Promise.all(
        level.map((n) => this.store.members(this.store.keys.children(n.id))),
      );
      const flat = childIds.flat().slice(0, MAX_TREE_NODES - count);
      const recs = new Map((await this.store.loadMany(flat)).map((r) => [r.id, r] as const));
      const next: TaskTreeNode[] = [];
      level.forEach((parent, i) => {
        for (const cid of childIds[i]) {
          const r = recs.get(cid);
          if (!r) continue;
          const child = node(r);
          parent.children.push(child);
          next.push(child);
        }
      });
      count += next.length;
      level = next;
    }
    return top;
  }

  async counts(): Promise<QueueCounts> {
    const k = this.store.keys;
    const r = await this.store.cardinalities([
      ...['READY', 'BLOCKED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'].map((s) =>
        k.byStatus(s),
      ),
      k.delayed,
      k.dead,
    ]);
    const counts: QueueCounts = {
      ready: r[0] - r[6],
      blocked: r[1],
      running: r[2],
      delayed: r[6],
      completed: r[3],
      failed: r[4],
      cancelled: r[5],
      deadLetter: r[7],
    };
    for (const [state, n] of Object.entries(counts) as [string, number][]) {
      this.metrics.taskQueueSize.set({ queue_name: `${this.config.queue.name}:${state}` }, n);
    }
    return counts;
  }
}
