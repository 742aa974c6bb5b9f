/**
 * What a person can do to a task or agent that makes the outcome "not autonomous". Bounded, so
 * `task_human_actions_total{action}` keeps a small label set. `approve` is reserved for approvals.
 */
export const HUMAN_ACTIONS = [
  'requeue',
  'retry',
  'cancel_task',
  'cancel_workflow',
  'breaker_reset',
  'deadlock_resolve',
  'approve',
] as const;

export type HumanAction = (typeof HUMAN_ACTIONS)[number];

export interface HumanActionRecord {
  action: HumanAction;
  /** Task, workflow or agent id the action was taken on, when there is one. */
  target?: string;
  /** Name of the API key that acted. */
  actor?: string;
}
