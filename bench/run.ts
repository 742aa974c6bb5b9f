import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchOptions, BenchReport } from './harness';
import { SCENARIOS } from './scenarios';

function parseArgs(argv: string[]): { scenario: string; options: BenchOptions } {
  const [scenario, ...rest] = argv;
  const flags: Record<string, string> = {};
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'`);
    const next = rest[i + 1];
    if (next === undefined || next.startsWith('--')) flags[a.slice(2)] = 'true';
    else {
      flags[a.slice(2)] = next;
      i++;
    }
  }
  const num = (k: string): number | undefined => {
    if (flags[k] === undefined) return undefined;
    const n = Number(flags[k]);
    if (!Number.isInteger(n) || n <= 0)
      throw new Error(`--${k} must be a positive integer, got '${flags[k]}'`);
    return n;
  };
  return {
    scenario: scenario ?? '',
    options: {
      size: num('size'),
      reps: num('reps') ?? 3,
      redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      amqpUrl: process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
      flags,
    },
  };
}

async function main(): Promise<void> {
  const { scenario, options } = parseArgs(process.argv.slice(2));
  const names = Object.keys(SCENARIOS);
  if (scenario === 'all') {
    const reports: BenchReport[] = [];
    for (const name of names) {
      process.stderr.write(`\n=== ${name} ===\n`);
      const report = await SCENARIOS[name]({ ...options, size: undefined });
      process.stdout.write(`${JSON.stringify(report)}\n`);
      reports.push(report);
    }
    const dir = join(__dirname, '..', '..', 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'latest.json'),
      `${JSON.stringify({ at: new Date().toISOString(), reports }, null, 2)}\n`,
    );
    const summary = {
      scenario: 'all',
      results: Object.fromEntries(reports.map((r) => [r.scenario, r.goals])),
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    process.exit(0);
  }
  const run = SCENARIOS[scenario];
  if (!run) {
    process.stderr.write(
      `usage: npm run bench -- <${[...names, 'all'].join('|')}> [--size N] [--reps R]\n`,
    );
    process.exit(2);
  }
  const report = await run(options);
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(0);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
