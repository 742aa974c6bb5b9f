import type { Command } from 'commander';
import type { TaskRecord } from '../../queue/task.types';
import { submitIdempotent } from '../idempotent-submit';
import { ApiClient, type ClientOptions, withClientOptions } from '../api-client';
import { CliError } from '../cli-error';
import { EXIT } from '../exit-codes';
import { enc, output, readJsonInput } from '../output.util';
import { renderKeyValues } from '../table.util';
import { normalizeWorkflow, WorkflowFollower } from '../workflow-follower';
import { taskRows } from './task.command';

interface RunOptions extends ClientOptions {
  follow?: boolean;
  pollInterval?: string;
  timeout?: string;
  idempotencyKey?: string;
}

function positiveNumber(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new CliError(`${flag} must be a positive number`, EXIT.usage);
  return n;
}

/** `switchyard workflow run|status` (REST /v1/workflows, live feed for --follow). */
export function registerWorkflowCommand(program: Command): void {
  const workflow = program.command('workflow').description('Run and inspect workflows (task DAGs)');

  withClientOptions(
    workflow
      .command('run <file>')
      .description('Submit a workflow from a JSON file (`-` reads stdin)')
      .option('-f, --follow', 'show live progress; exit 1 if the workflow fails or is cancelled')
      .option('--poll-interval <seconds>', 'with --follow: status poll interval', '2')
      .option('--timeout <seconds>', 'with --follow: give up (exit 1) after this long')
      .option(
        '--idempotency-key <key>',
        "dedupe key (default: the body's idempotencyKey, else a new UUID); retry a failed submit with the same key",
      ),
  ).action(async (file: string, opts: RunOptions) => {
    const definition = readJsonInput(file);
    const api = new ApiClient(opts);
    if (!opts.follow) {
      const created = normalizeWorkflow(
        await submitIdempotent<unknown>(api, '/v1/workflows', definition, opts.idempotencyKey),
      );
      output(
        opts.json,
        created.raw,
        () =>
          `Workflow ${created.id} submitted (status ${created.status}, ${created.total ?? '?'} tasks)\n` +
          `Follow it: switchyard workflow status ${created.id}\n`,
      );
      return;
    }
    const pollMs = (positiveNumber(opts.pollInterval, '--poll-interval') ?? 2) * 1000;
    const timeoutS = positiveNumber(opts.timeout, '--timeout');
    const follower = new WorkflowFollower(api, {
      json: opts.json,
      pollMs,
      timeoutMs: timeoutS === undefined ? undefined : timeoutS * 1000,
      idempotencyKey: opts.idempotencyKey,
    });
    const result = await follower.run(definition);
    if (!result.succeeded) {
      throw new CliError(`workflow ended ${result.status}`, EXIT.failure);
    }
  });

  withClientOptions(
    workflow.command('status <id>').description("A workflow's state and its tasks"),
  ).action(async (id: string, opts: ClientOptions) => {
    const api = new ApiClient(opts);
    const body = await api.get<unknown>(`/v1/workflows/${enc(id)}`);
    const view = normalizeWorkflow(body);
    output(opts.json, body, () => {
      const summary = Object.fromEntries(
        Object.entries(view.record).filter(([k]) => k !== 'tasks'),
      );
      const tasks = view.tasks as TaskRecord[];
      return `${renderKeyValues(summary)}\n${tasks.length > 0 ? taskRows(tasks) : 'No tasks.\n'}`;
    });
  });

  withClientOptions(
    workflow.command('cancel <id>').description('Cancel every unfinished task of a workflow'),
  ).action(async (id: string, opts: ClientOptions) => {
    const api = new ApiClient(opts);
    const body = await api.post<{ cancelled?: number } | undefined>(
      `/v1/workflows/${enc(id)}/cancel`,
    );
    const view = normalizeWorkflow(body);
    output(
      opts.json,
      body,
      () =>
        `Workflow ${view.id || id}: ${view.status}, ${body?.cancelled ?? 0} task(s) cancelled\n`,
    );
  });
}
