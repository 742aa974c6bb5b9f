import { previousWeek, renderReport } from './report.command';

describe('report command', () => {
  it('--week is the last full UTC week, Monday to Monday', () => {
    // Wednesday 2026-01-07 15:00 UTC -> Monday 2025-12-29 .. Monday 2026-01-05
    expect(previousWeek(new Date('2026-01-07T15:00:00Z'))).toEqual({
      from: '2025-12-29T00:00:00.000Z',
      to: '2026-01-05T00:00:00.000Z',
    });
    // On a Monday the week that just ended.
    expect(previousWeek(new Date('2026-01-05T00:30:00Z')).to).toBe('2026-01-05T00:00:00.000Z');
  });

  it('renders the plan table with units, targets and misses', () => {
    const text = renderReport({
      from: '2026-01-01T00:00:00.000Z',
      to: '2026-01-08T00:00:00.000Z',
      tasksConsidered: 10,
      truncated: false,
      rows: [
        { metric: 'autonomy', value: 0.9, unit: 'percent', target: '>= 95%', met: false },
        { metric: 'uptime', value: 0.99995, unit: 'percent', target: '>= 99.9%', met: true },
        {
          metric: 'dispatch_latency_p95',
          value: 0.42,
          unit: 'seconds',
          target: '< 5 s',
          met: true,
        },
        {
          metric: 'recovery_time_median',
          value: null,
          unit: 'seconds',
          target: '< 60 s',
          met: null,
        },
      ],
    });
    expect(text).toContain('10 finished tasks');
    expect(text).toMatch(/autonomy\s+90\.0%\s+>= 95%\s+NO/);
    expect(text).toMatch(/uptime\s+99\.995%\s+>= 99\.9%\s+yes/);
    expect(text).toMatch(/dispatch_latency_p95\s+0\.42 s/);
    expect(text).toMatch(/recovery_time_median\s+no data/);
  });
});
