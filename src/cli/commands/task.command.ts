import type { Command } from 'commander';
import type { TaskRecord, TaskTreeNode } from '../../queue/task.types';
import { ApiClient, type ClientOptions, withClientOptions } from '../api-client';
import { CliError } from '../cli-error';
import { EXIT } from '../exit-codes';
import { submitIdempotent } from '../idempotent-submit';
import { enc, itemsOf, output, readJsonInput } from '../output.util';
import { renderKeyValues, renderTable } from '../table.util';
import { taskLogs } from '../task-logs';
import { renderTaskTree } from '../task-tree';

interface ListOptions extends ClientOptions {
  status?: string;
  agent?: string;
  workflow?: string;
  limit?: string;
}

/**
 * Cancels a task: `POST /v1/tasks/{id}/cancel`, or `DELETE /v1/tasks/{id}` on a server that
 * routes cancellation that way (the first answers "Cannot POST ..." there).
 */
export async function cancelTask(api: ApiClient, id: string): Promise<unknown> {
  try {
    return await api.post<unknown>(`/v1/tasks/${enc(id)}/cancel`);
  } catch (e) {
    if (e instanceof CliError && e.exitCode === EXIT.notFound && /Cannot POST/.test(e.message)) {
      return api.delete<unknown>(`/v1/tasks/${enc(id)}`);
    }
    throw e;
  }
}

export function taskRows(tasks: TaskRecord[]): string {
  return renderTable(
    ['id', 'ref', 'capability', 'status', 'priority', 'agent', 'attempt', 'updated'],
    tasks.map((t) => [
      t.id,
      t.ref,
      t.capability,
      t.status,
      t.priority,
      t.agentId,
      t.attempt,
      t.updatedAt,
    ]),
  );
}

/** `switchyard task submit|status|list|tree|logs|cancel` (REST /v1/tasks). */
export function registerTaskCommand(program: Command): void {
  const task = program.command('task').description('Submit, inspect and cancel tasks');

  withClientOptions(
    task
      .command('submit <file>')
      .description('Submit one task from a JSON file (`-` reads stdin)')
      .option(
        '--idempotency-key <key>',
        "dedupe key (default: the body's idempotencyKey, else a new UUID); retry a failed submit with the same key",
      ),
  ).action(async (file: string, opts: ClientOptions & { idempotencyKey?: string }) => {
    const body = readJsonInput(file);
    const api = new ApiClient(opts);
    const created = await submitIdempotent<TaskRecord>(api, '/v1/tasks', body, opts.idempotencyKey);
    output(opts.json, created, () => `Submitted task ${created.id} (status ${created.status})\n`);
  });

  withClientOptions(task.command('status <id>').description("A task's record")).action(
    async (id: string, opts: ClientOptions) => {
      const api = new ApiClient(opts);
      const record = await api.get<Record<string, unknown>>(`/v1/tasks/${enc(id)}`);
      output(opts.json, record, () => renderKeyValues(record));
    },
  );

  withClientOptions(
    task
      .command('list')
      .description('List tasks (filters combine)')
      .option('--status <status>', 'BLOCKED, READY, RUNNING, COMPLETED, FAILED or CANCELLED')
      .option('--agent <id>', 'tasks run by this agent')
      .option('--workflow <id>', 'tasks of this workflow')
      .option('--limit <n>', 'page size'),
  ).action(async (opts: ListOptions) => {
    const api = new ApiClient(opts);
    const query = new URLSearchParams();
    if (opts.status) query.set('status', opts.status.toUpperCase());
    if (opts.agent) query.set('agent', opts.agent);
    if (opts.workflow) query.set('workflow', opts.workflow);
    if (opts.limit) query.set('limit', opts.limit);
    const qs = query.size > 0 ? `?${query.toString()}` : '';
    const body = await api.get<unknown>(`/v1/tasks${qs}`);
    const tasks = itemsOf<TaskRecord>(body);
    output(opts.json, body, () => (tasks.length === 0 ? 'No tasks.\n' : taskRows(tasks)));
  });

  withClientOptions(
    task
      .command('tree <id>')
      .description(
        'The delegation tree of a task (GET /v1/tasks/{id}/tree): status, agent, duration and cost of each task',
      ),
  ).action(async (id: string, opts: ClientOptions) => {
    const api = new ApiClient(opts);
    const tree = await api.get<TaskTreeNode>(`/v1/tasks/${enc(id)}/tree`);
    output(opts.json, tree, () => renderTaskTree(tree));
  });

  withClientOptions(
    task
      .command('logs <id>')
      .description("A task's live transcript (claude agents: text, tool calls, results)")
      .option('-f, --follow', 'keep printing new steps until the task ends; exit 1 if it fails')
      .option('--poll-interval <seconds>', 'with --follow: poll interval', '1')
      .option('--timeout <seconds>', 'with --follow: give up (exit 1) after this long'),
  ).action(
    async (
      id: string,
      opts: ClientOptions & { follow?: boolean; pollInterval: string; timeout?: string },
    ) => {
      const api = new ApiClient(opts);
      const pollMs = Number(opts.pollInterval) * 1000;
      const timeoutMs = opts.timeout !== undefined ? Number(opts.timeout) * 1000 : undefined;
      if (
        !Number.isFinite(pollMs) ||
        pollMs <= 0 ||
        (timeoutMs !== undefined && !(timeoutMs > 0))
      ) {
        throw new CliError('--poll-interval and --timeout must be positive numbers', EXIT.usage);
      }
      const status = await taskLogs(api, id, {
        follow: opts.follow,
        json: opts.json,
        pollMs,
        timeoutMs,
      });
      if (opts.follow && status !== 'COMPLETED') process.exitCode = EXIT.failure;
    },
  );

  withClientOptions(
    task.command('cancel <id>').description('Cancel a task that has not finished'),
  ).action(async (id: string, opts: ClientOptions) => {
    const api = new ApiClient(opts);
    const result = await cancelTask(api, id);
    const status = (result as { status?: string } | undefined)?.status;
    output(opts.json, result ?? { id, cancelled: true }, () =>
      status ? `Task ${id}: ${status}\n` : `Cancel requested for task ${id}\n`,
    );
  });
}
