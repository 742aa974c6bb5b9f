import type { Command } from 'commander';
import type { AgentRecord } from '../../discovery/agent-record.type';
import { ApiClient, type ClientOptions, withClientOptions } from '../api-client';
import { enc, itemsOf, output } from '../output.util';
import { renderKeyValues, renderTable } from '../table.util';

interface ListOptions extends ClientOptions {
  capability?: string;
  status?: string;
  limit?: string;
}

/** `switchyard agent list|info`: the agent registry (GET /v1/agents). */
export function registerAgentCommand(program: Command): void {
  const agent = program.command('agent').description('Registered agents (discovery)');

  withClientOptions(
    agent
      .command('list')
      .description('List registered agents with status, load and health')
      .option('--capability <name>', 'only agents offering this capability')
      .option('--status <status>', 'only agents in this status (AVAILABLE, BUSY, DRAINING...)')
      .option('--limit <n>', 'page size'),
  ).action(async (opts: ListOptions) => {
    const api = new ApiClient(opts);
    const query = new URLSearchParams();
    if (opts.capability) query.set('capability', opts.capability);
    if (opts.status) query.set('status', opts.status);
    if (opts.limit) query.set('limit', opts.limit);
    const qs = query.size > 0 ? `?${query.toString()}` : '';
    const body = await api.get<unknown>(`/v1/agents${qs}`);
    const agents = itemsOf<AgentRecord>(body);
    output(opts.json, body, () =>
      agents.length === 0
        ? 'No agents registered.\n'
        : renderTable(
            ['id', 'status', 'load', 'health', 'capabilities', 'last heartbeat'],
            agents.map((a) => [
              a.id,
              a.status,
              `${a.load}/${a.maxLoad}`,
              typeof a.healthScore === 'number' ? a.healthScore.toFixed(2) : undefined,
              (a.capabilities ?? []).join(','),
              a.lastHeartbeatAt,
            ]),
          ),
    );
  });

  withClientOptions(
    agent.command('info <id>').description("One agent's registration, load and health"),
  ).action(async (id: string, opts: ClientOptions) => {
    const api = new ApiClient(opts);
    const body = await api.get<Record<string, unknown>>(`/v1/agents/${enc(id)}`);
    output(opts.json, body, () => renderKeyValues(body));
  });
}
