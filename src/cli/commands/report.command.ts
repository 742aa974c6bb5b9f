import type { Command } from 'commander';
import { ApiClient, type ClientOptions, withClientOptions } from '../api-client';
import { CliError } from '../cli-error';
import { EXIT } from '../exit-codes';
import { output } from '../output.util';
import { renderTable } from '../table.util';

interface ReportRow {
  metric: string;
  value: number | null;
  unit: 'percent' | 'count' | 'seconds' | 'per_minute';
  target: string;
  met: boolean | null;
  note?: string;
}

interface Report {
  from: string;
  to: string;
  rows: ReportRow[];
  tasksConsidered: number;
  truncated: boolean;
}

const DAY_MS = 24 * 3600 * 1000;

/** The last full calendar week (UTC), Monday 00:00 to Monday 00:00, before `now`. */
export function previousWeek(now: Date): { from: string; to: string } {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const daysSinceMonday = (now.getUTCDay() + 6) % 7;
  const to = midnight - daysSinceMonday * DAY_MS;
  return { from: new Date(to - 7 * DAY_MS).toISOString(), to: new Date(to).toISOString() };
}

function formatValue(r: ReportRow): string {
  if (r.value === null) return 'no data';
  switch (r.unit) {
    case 'percent':
      return `${(r.value * 100).toFixed(r.metric === 'uptime' ? 3 : 1)}%`;
    case 'seconds':
      return `${r.value.toFixed(r.value < 10 ? 2 : 0)} s`;
    case 'per_minute':
      return `${r.value}/min`;
    case 'count':
      return String(r.value);
  }
}

/** The report as the plan's table: metric, value, target, whether it is met. */
export function renderReport(report: Report): string {
  const head = `Switchyard report ${report.from} .. ${report.to} (${report.tasksConsidered} finished tasks${report.truncated ? ', scan truncated' : ''})\n`;
  return (
    head +
    renderTable(
      ['metric', 'value', 'target', 'met', 'how'],
      report.rows.map((r) => [
        r.metric,
        formatValue(r),
        r.target,
        r.met === null ? '-' : r.met ? 'yes' : 'NO',
        r.note,
      ]),
    )
  );
}

/** `switchyard report [--week] [--from ISO] [--to ISO]` (GET /v1/report). */
export function registerReportCommand(program: Command): void {
  withClientOptions(
    program
      .command('report')
      .description(
        "The plan's success metrics with their targets: autonomy, tasks completed, dispatch latency, error rate, uptime, recovery time, utilization (default: the last 7 days)",
      )
      .option('--week', 'the last full calendar week (UTC, Monday to Monday)')
      .option('--from <iso>', 'start of the period (ISO-8601)')
      .option('--to <iso>', 'end of the period (ISO-8601, default now)'),
  ).action(async (opts: ClientOptions & { week?: boolean; from?: string; to?: string }) => {
    if (opts.week && (opts.from || opts.to)) {
      throw new CliError('report: use either --week or --from/--to', EXIT.usage);
    }
    const period = opts.week ? previousWeek(new Date()) : { from: opts.from, to: opts.to };
    const query = new URLSearchParams();
    if (period.from) query.set('from', period.from);
    if (period.to) query.set('to', period.to);
    const api = new ApiClient(opts);
    const qs = query.toString();
    const body = await api.get<Report>(`/v1/report${qs ? `?${qs}` : ''}`);
    output(opts.json, body, () => renderReport(body));
  });
}
