import type { Command } from 'commander';
import { ApiClient, type ClientOptions, withClientOptions } from '../api-client';
import { output } from '../output.util';
import { renderKeyValues } from '../table.util';

/** `switchyard queue status`: task counts per state (GET /v1/queue). */
export function registerQueueCommand(program: Command): void {
  const queue = program.command('queue').description('The task queue');
  withClientOptions(
    queue.command('status').description('Task counts per state, dead letters, deadlocks'),
  ).action(async (opts: ClientOptions) => {
    const api = new ApiClient(opts);
    const body = await api.get<Record<string, unknown>>('/v1/queue');
    output(opts.json, body, () => renderKeyValues(body));
  });
}
