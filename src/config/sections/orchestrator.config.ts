import { bool, defineSection, field, int, num } from '../config-field.util';

export const orchestratorSection = defineSection('orchestrator', 'Orchestrator (dispatch loop)', {
  enabled: field(
    'ORCHESTRATOR_ENABLED',
    bool().default(true),
    'Run the dispatch loop in this control-plane instance (false: API only)',
  ),
  concurrency: field(
    'ORCHESTRATOR_CONCURRENCY',
    int(1, 100_000).default(256),
    'Tasks this instance dispatches and awaits at once',
  ),
  noAgentRetryMs: field(
    'ORCHESTRATOR_NO_AGENT_RETRY_MS',
    int(10).default(500),
    'When no agent can take a task, how long it waits before it is offered again (not an attempt)',
  ),
  livenessCheckMs: field(
    'ORCHESTRATOR_LIVENESS_CHECK_MS',
    int(100).default(1000),
    'How often agents with tasks in flight are checked; a vanished agent fails its attempts (retryable agent_lost)',
  ),
  replyGraceMs: field(
    'ORCHESTRATOR_REPLY_GRACE_MS',
    int(0).default(2000),
    'Extra time past a task timeout to wait for the agent reply (the agent enforces the timeout itself)',
  ),
  candidateCacheMs: field(
    'ORCHESTRATOR_CANDIDATE_CACHE_MS',
    int(0, 10_000).default(100),
    'How long the list of agents for a capability is reused between dispatches (0: look up every time)',
  ),
  maxLoadRatio: field(
    'ORCHESTRATOR_MAX_LOAD_RATIO',
    num(0.01, 100).default(1),
    'Dispatch only to agents whose load/maxLoad is below this (above 1 lets tasks queue at busy agents)',
  ),
});
