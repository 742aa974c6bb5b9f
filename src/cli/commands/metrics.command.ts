import type { Command } from 'commander';
import { ApiClient, type ClientOptions, withClientOptions } from '../api-client';
import { output } from '../output.util';
import { parsePrometheusText } from '../prometheus-text.util';
import { renderTable } from '../table.util';

interface MetricsOptions extends ClientOptions {
  raw?: boolean;
  all?: boolean;
  grep?: string;
}

/** Process/runtime metrics and histogram buckets are left out unless `--all`. */
const NOISE = /^(process_|nodejs_)|_bucket$/;

/** `switchyard metrics`: the Prometheus metrics (GET /metrics) as a table. */
export function registerMetricsCommand(program: Command): void {
  withClientOptions(
    program
      .command('metrics')
      .description('Switchyard metrics from /metrics (tasks, queue, breakers, bus...)')
      .option('--raw', 'print the Prometheus text as served')
      .option('--all', 'include process/runtime metrics and histogram buckets')
      .option('--grep <text>', 'only metrics whose name contains this'),
  ).action(async (opts: MetricsOptions) => {
    const api = new ApiClient(opts);
    const text = await api.text('/metrics');
    if (opts.raw) {
      process.stdout.write(text);
      return;
    }
    const samples = parsePrometheusText(text).filter(
      (s) => (opts.all || !NOISE.test(s.name)) && (!opts.grep || s.name.includes(opts.grep)),
    );
    output(opts.json, samples, () =>
      samples.length === 0
        ? 'No matching metrics.\n'
        : renderTable(
            ['metric', 'labels', 'value'],
            samples.map((s) => [
              s.name,
              Object.entries(s.labels)
                .map(([k, v]) => `${k}=${v}`)
                .join(','),
              Number.isInteger(s.value) ? s.value : Number(s.value.toPrecision(6)),
            ]),
          ),
    );
  });
}
