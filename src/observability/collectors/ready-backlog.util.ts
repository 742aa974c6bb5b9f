import { TaskStatus, type TaskRecord } from '../../queue/task.types';

export interface ReadyBacklog {
  /** READY tasks that can be dispatched now (not in a retry wait), per capability. */
  waiting: Map<string, number>;
  /** Seconds the longest-waiting dispatchable task has waited; 0 when none. */
  oldestAgeSeconds: number;
}

/**
 * Summarises READY task records: a task in a retry wait (`retryAt` in the future) is not waiting
 * for an agent yet; a task's wait starts at its last transition (`updatedAt`, or `retryAt` once a
 * retry wait is over).
 */
export function summarizeReadyBacklog(
  tasks: readonly Pick<TaskRecord, 'capability' | 'status' | 'updatedAt' | 'retryAt'>[],
  now: number,
): ReadyBacklog {
  const waiting = new Map<string, number>();
  let oldest = Infinity;
  for (const t of tasks) {
    if (t.status !== TaskStatus.Ready) continue;
    const retryAt = t.retryAt ? Date.parse(t.retryAt) : NaN;
    if (retryAt > now) continue;
    waiting.set(t.capability, (waiting.get(t.capability) ?? 0) + 1);
    const since = Math.max(Date.parse(t.updatedAt) || now, Number.isNaN(retryAt) ? 0 : retryAt);
    oldest = Math.min(oldest, since);
  }
  return {
    waiting,
    oldestAgeSeconds: oldest === Infinity ? 0 : Math.max(0, (now - oldest) / 1000),
  };
}
