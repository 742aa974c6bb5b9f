import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { ConfigService } from '../config/config.service';
import { EventsService } from '../events/events.service';
import { MetricsService } from '../observability/metrics.service';
import { taskLine } from '../observability/task-log';
import { TaskArchiveService } from '../state/task-archive.service';
import { cycleInComponent, cyclicComponents } from './dag.util';
import { JobPusher } from './job-pusher.service';
import { ScriptEffects } from './script-effects.service';
import { TaskLifecycle } from './task-lifecycle.service';
import { TaskQueries } from './task-queries.service';
import { TaskStore } from './task-store.repository';
import type { ReadyEntry } from './task-jobs.adapter';

/** `kind` of `queue_reconciler_repairs_total`: what was found broken and repaired. */
export const REPAIR_KINDS = [
  /** READY with no BullMQ job (a crash between the record write and the push): pushed again. */
  'ready_without_job',
  /** RUNNING past its deadline + grace (its runner is gone): failed with a retryable timeout. */
  'running_past_deadline',
  /** A dependency cycle among BLOCKED tasks: its lowest-priority task cancelled. */
  'deadlock_cancelled',
] as const;

/** Tasks whose wait-for edges one script call reads (bounded work per call, see detectDeadlocks). */
const DEADLOCK_SCAN_BATCH = 200;

/**
 * How long a BullMQ call of the reconciler may take. BullMQ's connections have no command
 * timeout (its blocking reads wait) and queue commands while they (re)connect: after a failover
 * such a call can wait for a very long time, and the reconciler must not wait with it.
 */
export const RECONCILE_BULLMQ_TIMEOUT_MS = 10_000;

/**
 * Longest a housekeeping run may hold its slot: past it the run is abandoned (whatever it still
 * awaits settles unobserved) and the next one starts, so one call that never answers cannot stop
 * the reconciler for good. At least this, else 6 intervals.
 */
export const HOUSEKEEPING_RUN_LIMIT_MS = 30_000;

export interface DeadlockCycle {
  /** Task ids in dependency order: each waits for the next, the last for the first. */
  taskIds: string[];
  /** The task the resolver cancels: lowest priority, newest on a tie. */
  victim: string;
}

/**
 * Housekeeping that runs on control planes only (the worker process does not load the queue):
 * the reconciler (READY tasks whose job was never pushed, RUNNING tasks past their deadline) and
 * the deadlock detector/resolver.
 */
@Injectable()
export class QueueMaintenance implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(QueueMaintenance.name);
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly config: ConfigService,
    private readonly store: TaskStore,
    private readonly pusher: JobPusher,
    private readonly lifecycle: TaskLifecycle,
    private readonly queries: TaskQueries,
    private readonly effects: ScriptEffects,
    private readonly events: EventsService,
    private readonly archive: TaskArchiveService,
    private readonly metrics: MetricsService,
  ) {}

  onApplicationBootstrap(): void {
    // Every kind from the start (at 0), so rate() and the alert see the series before a repair.
    for (const kind of REPAIR_KINDS) this.metrics.reconcilerRepairsTotal.inc({ kind }, 0);
    const q = this.config.queue;
    if (q.reconcileIntervalMs > 0) {
      this.every('reconcile', q.reconcileIntervalMs, async () => {
        await this.reconcile();
        await this.queries.counts(); // keeps task_queue_size fresh
      });
    }
    if (q.retentionSweepMs > 0 && (q.retentionSeconds > 0 || q.retentionMaxTasks > 0)) {
      this.every('retention sweep', q.retentionSweepMs, () =>
        this.sweepRetention().then(() => undefined),
      );
    }
    if (q.deadlockCheckIntervalMs > 0) {
      this.every('deadlock check', q.deadlockCheckIntervalMs, () =>
        this.resolveDeadlocks().then(() => undefined),
      );
    }
  }

  onModuleDestroy(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }

  /**
   * Runs `fn` every `ms`, one run at a time. A run that has not settled after
   * max(HOUSEKEEPING_RUN_LIMIT_MS, 6 x ms) (a call that never answers) is abandoned with a
   * warning and the next one goes ahead: a slot held forever would stop that job for good.
   */
  every(
    name: string,
    ms: number,
    fn: () => Promise<void>,
    limit = Math.max(HOUSEKEEPING_RUN_LIMIT_MS, 6 * ms),
  ): void {
    let current: { since: number } | undefined;
    const t = setInterval(() => {
      if (current) {
        if (Date.now() - current.since < limit) return;
        this.logger.warn(
          `queue housekeeping (${name}): the run started ${Date.now() - current.since} ms ago has not finished; abandoning it and starting the next`,
        );
      }
      const run = { since: Date.now() };
      current = run;
      fn()
        .catch((e: Error) => this.logger.warn(`queue housekeeping (${name}): ${e.message}`))
        .finally(() => {
          if (current === run) current = undefined;
        });
    }, ms);
    t.unref();
    this.timers.push(t);
  }

  /**
   * Repairs what a crash between two steps can leave behind: READY tasks whose BullMQ job was
   * never pushed (outbox entries older than the grace period) and RUNNING tasks past their
   * deadline (their runner is gone): those fail with a retryable timeout, and any runner still
   * holding them is told to stop.
   */
  async reconcile(): Promise<{ repushed: number; expired: number }> {
    const now = Date.now();
    const grace = this.config.queue.reconcileGraceMs;
    const k = this.store.keys;
    const members = await this.store.membersUpTo(k.outbox, now - grace, 1000);
    // A stuck push does not keep the RUNNING tasks below from being repaired.
    const repushed =
      members.length === 0
        ? 0
        : await this.repushOutbox(members).catch((e: Error) => {
            this.logger.warn(
              `reconciler: READY tasks without a queue job not pushed yet: ${e.message}`,
            );
            return 0;
          });
    const expired = await this.store.membersUpTo(k.running, now, 500);
    const rows = await this.store.fieldsOfMany(expired, 'attempt', 'timeout', 'status');
    let failures = 0;
    let lastError: Error | undefined;
    for (const [i, id] of expired.entries()) {
      const [attempt, timeout, status] = rows[i] ?? [];
      try {
        if (status !== 'RUNNING') {
          await this.store.removeMembers(k.running, [id]);
          continue;
        }
        this.metrics.reconcilerRepairsTotal.inc({ kind: 'running_past_deadline' });
        this.logger.warn(
          taskLine(
            `reconciler: task ${id} attempt ${attempt ?? 0} is RUNNING past its deadline; failing it (retryable timeout)`,
            { taskId: id, attempt: Number(attempt ?? 0) },
          ),
        );
        await this.store.publish(k.cancelChannel, `${id}|${attempt ?? 0}`);
        // Detached: the retry's BullMQ job is pushed in the background (its outbox entry covers
        // a push that fails), so a stuck BullMQ connection cannot hold the reconciler.
        await this.lifecycle.fail(
          id,
          Number(attempt),
          {
            type: 'timeout',
            message: `no result within ${timeout} ms (+${grace} ms grace): its runner is gone or stuck`,
            retryable: true,
          },
          undefined,
          { detached: true },
        );
      } catch (e) {
        // One task that cannot be repaired now (a WAIT timeout, a Redis hiccup) does not stop
        // the others: it is still in the running index and the next run tries it again.
        failures++;
        lastError = e as Error;
      }
    }
    if (failures > 0) {
      this.logger.warn(
        `reconciler: ${failures} of ${expired.length} task(s) RUNNING past their deadline not repaired yet (${lastError?.message}); retrying next run`,
      );
    }
    return { repushed, expired: expired.length };
  }

  /** Pushes the jobs of outbox entries whose task is still READY in that generation. */
  private async repushOutbox(members: string[]): Promise<number> {
    const k = this.store.keys;
    const parsed = members.map((m) => {
      const at = m.lastIndexOf('#');
      return [m.slice(0, at), Number(m.slice(at + 1))] as const;
    });
    const rows = await this.store.fieldsOfMany(
      parsed.map(([id]) => id),
      'status',
      'gen',
      'prio',
      'readyAt',
      'cap',
    );
    const entries: ReadyEntry[] = [];
    parsed.forEach(([id, gen], i) => {
      const [status, g, prio, readyAt, cap] = rows[i] ?? [];
      if (status === 'READY' && Number(g) === gen)
        entries.push([id, gen, Number(prio), Number(readyAt), cap ?? undefined]);
    });
    // Bounded: the outbox entries stay (and are pushed by a later run) when BullMQ is stuck.
    await withTimeout(
      this.pusher.jobs.add(entries),
      RECONCILE_BULLMQ_TIMEOUT_MS,
      `pushing ${entries.length} job(s) to BullMQ`,
    );
    await this.store.removeMembers(k.outbox, members);
    const repushed = entries.length;
    if (repushed > 0)
      this.metrics.reconcilerRepairsTotal.inc({ kind: 'ready_without_job' }, repushed);
    if (repushed > 0)
      this.logger.warn(`reconciler: pushed ${repushed} READY task(s) that had no queue job`);
    return repushed;
  }

  /**
   * Retention: finished tasks that ended more than TASK_RETENTION_SECONDS ago, and the oldest
   * beyond TASK_RETENTION_MAX_TASKS, are written to the archive and then removed from Redis (a
   * task a dependent still waits for is kept). Several instances may sweep at once: the archive
   * write is idempotent and the removal script re-checks each task.
   */
  async sweepRetention(
    now = Date.now(),
    batch = 500,
  ): Promise<{ archived: number; removed: number }> {
    const q = this.config.queue;
    const k = this.store.keys;
    let archived = 0;
    let removed = 0;
    for (let round = 0; round < 20; round++) {
      const ids = new Set<string>();
      if (q.retentionSeconds > 0) {
        for (const id of await this.store.membersUpTo(
          k.ended,
          now - q.retentionSeconds * 1000,
          batch,
        ))
          ids.add(id);
      }
      if (q.retentionMaxTasks > 0 && ids.size < batch) {
        const over = (await this.store.cardinality(k.ended)) - q.retentionMaxTasks;
        if (over > 0)
          for (const id of await this.store.oldest(k.ended, Math.min(over, batch))) ids.add(id);
      }
      if (ids.size === 0) break;
      const records = await this.store.loadMany([...ids]);
      await Promise.all(records.map((r) => this.archive.put(r.id, r)));
      archived += records.length;
      const gone = await this.store.purge([...ids]);
      removed += gone.length;
      if (gone.length === 0) break; // all kept (dependents still waiting): try next sweep
    }
    if (removed > 0) this.logger.log(`retention: archived and removed ${removed} finished task(s)`);
    return { archived, removed };
  }

  /**
   * Cycles among BLOCKED tasks: the wait-for graph reachable from the suspects, read a batch of
   * `DEADLOCK_SCAN_BATCH` tasks per script call so no call holds Redis for long at any size.
   */
  async detectDeadlocks(): Promise<{ cycles: DeadlockCycle[]; blocked: number; tookMs: number }> {
    const t0 = performance.now();
    const [blockedCount] = await this.store.cardinalities([this.store.keys.byStatus('BLOCKED')]);
    const suspects = await this.store.suspects();
    const graph = new Map<string, string[]>();
    const seen = new Set(suspects);
    let frontier = [...suspects];
    while (frontier.length > 0) {
      const next: string[] = [];
      for (let i = 0; i < frontier.length; i += DEADLOCK_SCAN_BATCH) {
        const edges = await this.store.blockedEdges(frontier.slice(i, i + DEADLOCK_SCAN_BATCH));
        for (const [id, deps] of edges) {
          graph.set(id, deps);
          for (const d of deps) {
            if (!seen.has(d)) {
              seen.add(d);
              next.push(d);
            }
          }
        }
      }
      frontier = next;
    }
    const components = cyclicComponents(graph);
    const raw = components.map((c) => cycleInComponent(graph, c));
    // A suspect on no cycle now can only be on a future cycle through a newer suspect.
    const onCycle = new Set(components.flat());
    await this.store.removeFromSet(
      this.store.keys.suspects,
      suspects.filter((id) => !onCycle.has(id)),
    );
    const cycles: DeadlockCycle[] = [];
    if (raw.length > 0) {
      const rows = await this.store.fieldsOfMany(raw.flat(), 'prio', 'seq');
      let r = 0;
      for (const c of raw) {
        let victim = c[0];
        let best: [number, number] = [Infinity, -Infinity];
        for (const id of c) {
          const [prio, seq] = rows[r++] ?? ['0', '0'];
          const key: [number, number] = [Number(prio), Number(seq)];
          if (key[0] < best[0] || (key[0] === best[0] && key[1] > best[1])) {
            best = key;
            victim = id;
          }
        }
        cycles.push({ taskIds: c, victim });
      }
    }
    return {
      cycles,
      blocked: blockedCount,
      tookMs: Math.round((performance.now() - t0) * 1000) / 1000,
    };
  }

  /** Cancels the lowest-priority task of each cycle (reason deadlock), until no cycle is left. */
  async resolveDeadlocks(): Promise<{ resolved: { cycle: string[]; cancelled: string }[] }> {
    const resolved: { cycle: string[]; cancelled: string }[] = [];
    for (let round = 0; round < 100; round++) {
      const { cycles } = await this.detectDeadlocks();
      if (cycles.length === 0) break;
      for (const c of cycles) {
        // The graph was read in batches: cancel only if it is still a cycle right now.
        if (!(await this.store.isCycle(c.taskIds))) continue;
        const res = await this.store.cancel('task', c.victim, 'deadlock');
        if (!res.ok) continue;
        this.metrics.reconcilerRepairsTotal.inc({ kind: 'deadlock_cancelled' });
        this.logger.warn(
          `deadlock: cancelled task ${c.victim} (lowest priority) to break the cycle ${[...c.taskIds, c.taskIds[0]].join(' -> ')}`,
        );
        this.events.emit('task.deadlocked', { taskId: c.victim, data: { cycle: c.taskIds } });
        await this.effects.apply(res);
        resolved.push({ cycle: c.taskIds, cancelled: c.victim });
      }
    }
    return { resolved };
  }
}

/** `p`, or a rejection naming `what` once `ms` have passed (`p` then settles unobserved). */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  p.catch(() => undefined);
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
