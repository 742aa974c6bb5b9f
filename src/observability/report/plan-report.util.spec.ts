import {
  buildPlanReport,
  percentile,
  type ReportInputs,
  type ReportTask,
} from './plan-report.util';

const T0 = Date.parse('2026-01-05T00:00:00Z');
const min = 60_000;
const task = (
  id: string,
  status: string,
  createdMs: number,
  startMs: number,
  doneMs: number,
  extra: Partial<ReportTask> = {},
) =>
  ({
    id,
    status,
    createdAt: new Date(T0 + createdMs).toISOString(),
    startedAt: new Date(T0 + startMs).toISOString(),
    completedAt: new Date(T0 + doneMs).toISOString(),
    attempt: 0,
    dependsOn: [],
    ...extra,
  }) as ReportTask;

const base: ReportInputs = {
  from: T0,
  to: T0 + 60 * min,
  tasks: [],
  humanTouched: new Set(),
  availableMinutes: [],
  now: T0 + 60 * min,
  utilization: [],
  recoveriesMs: [],
  truncated: false,
};
const row = (r: ReturnType<typeof buildPlanReport>, metric: string) =>
  r.rows.find((x) => x.metric === metric)!;

describe('percentile', () => {
  it('is nearest-rank', () => {
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBe(10);
    expect(percentile([], 95)).toBeUndefined();
  });
});

describe('buildPlanReport', () => {
  it('computes autonomy, error rate, throughput and dispatch latency from task records', () => {
    const r = buildPlanReport({
      ...base,
      tasks: [
        task('a', 'COMPLETED', 0, 1000, 2000),
        task('b', 'COMPLETED', 0, 3000, 4000),
        task('c', 'COMPLETED', min, min + 500, min + 900, { rootTaskId: 'b' }),
        task('d', 'FAILED', 0, 100, 200),
        task('old', 'COMPLETED', -2 * min, -min, -min + 1), // before the period
        task('dep', 'COMPLETED', 0, 9 * min, 9 * min + 1, { dependsOn: ['a'] }), // not a dispatch sample
      ],
      humanTouched: new Set(['b']),
    });
    expect(r.tasksConsidered).toBe(5);
    expect(row(r, 'tasks_completed').value).toBe(4);
    // b was requeued by a person, c is b's child: 2 of 4 autonomous.
    expect(row(r, 'autonomy')).toMatchObject({ value: 0.5, met: false });
    expect(row(r, 'error_rate')).toMatchObject({ value: 0.2, met: false });
    expect(row(r, 'throughput_peak')).toMatchObject({ value: 2, met: false });
    expect(row(r, 'dispatch_latency_p95')).toMatchObject({ value: 3, met: true });
  });

  it('measures uptime from the first availability sample, and says when there is no data', () => {
    const none = buildPlanReport(base);
    expect(row(none, 'uptime')).toMatchObject({ value: null, met: null });
    expect(row(none, 'autonomy').value).toBeNull();
    // Samples from minute 30 on, minute 45 missing: 29 of 30 minutes.
    const minutes = Array.from({ length: 30 }, (_, i) => T0 + (30 + i) * min).filter(
      (m) => m !== T0 + 45 * min,
    );
    const r = buildPlanReport({
      ...base,
      availableMinutes: minutes,
      firstAvailability: minutes[0],
    });
    expect(row(r, 'uptime').value).toBeCloseTo(29 / 30, 5);
    expect(row(r, 'uptime').met).toBe(false);
  });

  it('does not count the minute in progress against uptime before it has a sample', () => {
    const minutes = [T0, T0 + min];
    const now = T0 + 2 * min + 5_000; // minute 2 has just begun, no sample yet
    const r = buildPlanReport({ ...base, availableMinutes: minutes, firstAvailability: T0, now });
    expect(row(r, 'uptime')).toMatchObject({ value: 1, met: true });
    const later = buildPlanReport({
      ...base,
      availableMinutes: minutes,
      firstAvailability: T0,
      now: T0 + 4 * min,
    });
    expect(row(later, 'uptime').value).toBeCloseTo(2 / 4, 5);
  });

  it('reports recovery time and utilization against their targets', () => {
    const r = buildPlanReport({
      ...base,
      recoveriesMs: [30_000, 90_000, 40_000],
      utilization: [0.6, 0.8],
    });
    expect(row(r, 'recovery_time_median')).toMatchObject({ value: 40, met: true });
    expect(row(r, 'agent_utilization')).toMatchObject({ value: 0.7, met: true });
  });
});
