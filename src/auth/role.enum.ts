/** What a bearer token may do. */
export enum Role {
  /** Everything, including configuration-level actions. */
  Admin = 'admin',
  /** Submit, cancel and manage tasks, workflows, agents and state. */
  Operator = 'operator',
  /** Acts only for the one agent id it is bound to (register, heartbeat, deregister itself). */
  Agent = 'agent',
  /** Reads everything, changes nothing. */
  Viewer = 'viewer',
  /**
   * A task-scoped credential (never an API key): may create children of its task, read its own
   * delegation tree and use its workflow's state, until the task is terminal.
   */
  Task = 'task',
}

/** Roles an API key may have (task credentials are issued, not configured). */
export const ALL_ROLES: readonly Role[] = [Role.Admin, Role.Operator, Role.Agent, Role.Viewer];
