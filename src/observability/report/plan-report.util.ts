import { type TaskRecord, TaskStatus } from '../../queue/task.types';

/** One line of the plan's weekly table: the number, its target and whether it is met. */
export interface ReportRow {
  metric: string;
  value: number | null;
  unit: 'percent' | 'count' | 'seconds' | 'per_minute';
  target: string;
  /** null when there is no data to judge. */
  met: boolean | null;
  note?: string;
}

export interface PlanReport {
  from: string;
  to: string;
  rows: ReportRow[];
  /** Finished tasks looked at (COMPLETED or FAILED with completedAt in the period). */
  tasksConsidered: number;
  /** True when the task scan stopped at its limit: counts are lower bounds. */
  truncated: boolean;
}

export type ReportTask = Pick<
  TaskRecord,
  | 'id'
  | 'status'
  | 'createdAt'
  | 'startedAt'
  | 'completedAt'
  | 'attempt'
  | 'dependsOn'
  | 'rootTaskId'
>;

export interface ReportInputs {
  from: number;
  to: number;
  tasks: ReportTask[];
  humanTouched: Set<string>;
  /** Minute starts in which at least one control plane recorded itself ready. */
  availableMinutes: number[];
  firstAvailability?: number;
  /** When the report is made: a minute still in progress is judged only once it has a sample. */
  now: number;
  utilization: number[];
  recoveriesMs: number[];
  truncated: boolean;
}

/** Nearest-rank percentile of unsorted values (undefined when empty). */
export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** The start of the minute `ms` falls in (availability samples are per minute). */
export const minuteStart = (ms: number) => Math.floor(ms / 60_000) * 60_000;

const round = (v: number, digits = 3) => Math.round(v * 10 ** digits) / 10 ** digits;

/**
 * The plan's success metrics for a period (seed: autonomy ≥ 95%, dispatch < 5 s, ≥ 100 tasks/min,
 * uptime 99.9%, recovery < 60 s, utilization ~70%), from task records and the control planes'
 * own samples.
 */
export function buildPlanReport(input: ReportInputs): PlanReport {
  const inPeriod = input.tasks.filter((t) => {
    const at = t.completedAt ? Date.parse(t.completedAt) : NaN;
    return (
      at >= input.from &&
      at < input.to &&
      (t.status === TaskStatus.Completed || t.status === TaskStatus.Failed)
    );
  });
  const completed = inPeriod.filter((t) => t.status === TaskStatus.Completed);
  const failed = inPeriod.length - completed.length;
  const autonomous = completed.filter(
    (t) => !input.humanTouched.has(t.id) && !(t.rootTaskId && input.humanTouched.has(t.rootTaskId)),
  ).length;

  // Dispatch latency: tasks ready at creation (no dependencies), first attempt: created -> started.
  const dispatch = completed
    .filter((t) => t.dependsOn.length === 0 && t.attempt === 0 && t.startedAt)
    .map((t) => (Date.parse(t.startedAt!) - Date.parse(t.createdAt)) / 1000)
    .filter((s) => s >= 0);
  const dispatchP95 = percentile(dispatch, 95);

  const minutes = Math.max(1, (input.to - input.from) / 60_000);
  const perMinute = new Map<number, number>();
  for (const t of completed) {
    const m = Math.floor(Date.parse(t.completedAt!) / 60_000);
    perMinute.set(m, (perMinute.get(m) ?? 0) + 1);
  }
  const peak = Math.max(0, ...perMinute.values());

  // Uptime: minute buckets overlapping the period, from the first availability sample ever on;
  // a bucket not over yet counts only once sampled (every instance samples several times a minute).
  const sampled = new Set(input.availableMinutes);
  let judged = 0;
  let up = 0;
  const lastBucket = minuteStart(input.to - 1);
  for (
    let m = Math.max(minuteStart(input.from), input.firstAvailability ?? Infinity);
    m <= lastBucket;
    m += 60_000
  ) {
    if (sampled.has(m)) {
      judged++;
      up++;
    } else if (m + 60_000 <= input.now) {
      judged++;
    }
  }
  const uptime = judged > 0 ? up / judged : null;

  const recovery = percentile(input.recoveriesMs, 50);
  const utilization =
    input.utilization.length > 0
      ? input.utilization.reduce((a, b) => a + b, 0) / input.utilization.length
      : null;

  const rows: ReportRow[] = [
    {
      metric: 'autonomy',
      value: completed.length ? round(autonomous / completed.length, 4) : null,
      unit: 'percent',
      target: '>= 95%',
      met: completed.length ? autonomous / completed.length >= 0.95 : null,
      note: 'completed tasks no person acted on (requeue, cancel, ...), nor on their root task',
    },
    { metric: 'tasks_completed', value: completed.length, unit: 'count', target: '-', met: null },
    {
      metric: 'throughput_peak',
      value: peak,
      unit: 'per_minute',
      target: '>= 100/min',
      met: completed.length ? peak >= 100 : null,
      note: `busiest minute; average ${round(completed.length / minutes, 2)}/min over the period`,
    },
    {
      metric: 'dispatch_latency_p95',
      value: dispatchP95 === undefined ? null : round(dispatchP95),
      unit: 'seconds',
      target: '< 5 s',
      met: dispatchP95 === undefined ? null : dispatchP95 < 5,
      note: 'created -> started, first attempts of tasks without dependencies',
    },
    {
      metric: 'error_rate',
      value: inPeriod.length ? round(failed / inPeriod.length, 4) : null,
      unit: 'percent',
      target: '< 10%',
      met: inPeriod.length ? failed / inPeriod.length < 0.1 : null,
    },
    {
      metric: 'uptime',
      value: uptime === null ? null : round(uptime, 5),
      unit: 'percent',
      target: '>= 99.9%',
      met: uptime === null ? null : uptime >= 0.999,
      note:
        uptime === null
          ? 'no availability samples in the period'
          : 'minutes in which at least one control plane was ready',
    },
    {
      metric: 'recovery_time_median',
      value: recovery === undefined ? null : round(recovery / 1000),
      unit: 'seconds',
      target: '< 60 s',
      met: recovery === undefined ? null : recovery < 60_000,
      note: `breaker open -> closed, ${input.recoveriesMs.length} recoveries`,
    },
    {
      metric: 'agent_utilization',
      value: utilization === null ? null : round(utilization, 4),
      unit: 'percent',
      target: '~70%',
      met: utilization === null ? null : utilization >= 0.5 && utilization <= 0.85,
      note: 'average load / maxLoad of registered agents (met: 50-85%)',
    },
  ];
  return {
    from: new Date(input.from).toISOString(),
    to: new Date(input.to).toISOString(),
    rows,
    tasksConsidered: inPeriod.length,
    truncated: input.truncated,
  };
}
