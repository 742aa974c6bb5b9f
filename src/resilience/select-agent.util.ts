import type { AgentRecord } from '../discovery/agent-record.type';

/** What {@link selectAgent} needs from the breaker registry. */
export interface DispatchGate {
  canDispatch(agentId: string): boolean;
}

/**
 * The fallback rule (seed 2.1): from `candidates` — agents with the task's capability, already
 * sorted least-loaded first — the first one whose breaker lets a task through (closed, or
 * half-open with its trial slot free). `exclude` names agents not to use again (e.g. the one
 * whose breaker just refused). `undefined` means none can take it now: the task waits/retries.
 */
export function selectAgent(
  candidates: readonly AgentRecord[],
  registry: DispatchGate,
  exclude: ReadonlySet<string> = new Set(),
): AgentRecord | undefined {
  for (const agent of candidates) {
    if (exclude.has(agent.id)) continue;
    if (registry.canDispatch(agent.id)) return agent;
  }
  return undefined;
}
