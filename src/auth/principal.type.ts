import type { Role } from './role.enum';
import type { TaskCredentialClaims } from './task-credential.codec';

/** Who is calling: resolved from the bearer token. */
export interface Principal {
  /** Name of the API key (e.g. `admin`, `ci`, `agent:code-reviewer`). */
  name: string;
  role: Role;
  /** Set for `agent` tokens: the only agent id the token may act for. */
  agentId?: string;
  /** Set for task credentials (role `task`): the task and tree it is scoped to. */
  task?: TaskCredentialClaims;
  /** Set for `agent` tokens: what the agent may claim when it registers and heartbeats. */
  agentLimits?: AgentKeyLimits;
}

/** What an agent key lets its agent claim in the registry (outside it: 403). */
export interface AgentKeyLimits {
  /** The only capabilities it may register (empty: it may not register). */
  capabilities: readonly string[];
  /** Highest `maxLoad` it may register or heartbeat. */
  maxLoad: number;
  /** Highest `ttlSeconds` it may register. */
  maxTtlSeconds: number;
}
