import type { Command } from 'commander';
import { ApiClient, type ClientOptions, withClientOptions } from '../api-client';
import { enc, itemsOf, output } from '../output.util';
import { renderKeyValues, renderTable } from '../table.util';

interface BreakerRow {
  agentId: string;
  state: string;
  failures?: number;
  threshold?: number;
  rejections?: number;
  openedAt?: string | null;
  nextAttemptAt?: string | null;
}

/** `switchyard circuit-breaker status [agentId]` (GET /v1/circuit-breakers). */
export function registerCircuitBreakerCommand(program: Command): void {
  const breaker = program.command('circuit-breaker').description('Per-agent circuit breakers');
  withClientOptions(
    breaker
      .command('status [agentId]')
      .description("Every breaker's state, or one agent's breaker in detail"),
  ).action(async (agentId: string | undefined, opts: ClientOptions) => {
    const api = new ApiClient(opts);
    if (agentId) {
      const one = await api.get<Record<string, unknown>>(`/v1/circuit-breakers/${enc(agentId)}`);
      output(opts.json, one, () => renderKeyValues(one));
      return;
    }
    const body = await api.get<unknown>('/v1/circuit-breakers');
    const rows = itemsOf<BreakerRow>(body);
    output(opts.json, body, () =>
      rows.length === 0
        ? 'No circuit breakers yet (every agent starts closed).\n'
        : renderTable(
            ['agent', 'state', 'failures', 'rejections', 'opened', 'next attempt'],
            rows.map((b) => [
              b.agentId,
              b.state,
              b.threshold !== undefined ? `${b.failures ?? 0}/${b.threshold}` : b.failures,
              b.rejections,
              b.openedAt,
              b.nextAttemptAt,
            ]),
          ),
    );
  });
}
