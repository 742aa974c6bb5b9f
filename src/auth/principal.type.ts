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
}
