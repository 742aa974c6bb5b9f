/**
 * Internal events: what happened, with the ids a live-feed filter needs. Emitted by modules on
 * the local {@link EventsService}; the gateway fans them out to WebSocket clients and across
 * control-plane instances.
 */
export type SwitchyardEventType =
  | 'agent.registered'
  | 'agent.status'
  | 'agent.expired'
  | 'agent.deregistered'
  | 'task.created'
  | 'task.ready'
  | 'task.running'
  | 'task.retrying'
  | 'task.completed'
  | 'task.failed'
  | 'task.cancelled'
  | 'task.deadlocked'
  | 'task.waiting'
  | 'task.progress'
  | 'workflow.completed'
  | 'workflow.failed'
  | 'workflow.cancelled'
  | 'breaker.opened'
  | 'breaker.half_open'
  | 'breaker.closed';

export interface SwitchyardEvent {
  type: SwitchyardEventType;
  /** ISO-8601 time the event happened. */
  at: string;
  agentId?: string;
  taskId?: string;
  workflowId?: string;
  capability?: string;
  /** Event-specific facts (status, load, error, reason, attempt...). */
  data?: Record<string, unknown>;
  /** Id of the control-plane instance or worker that emitted it. */
  source?: string;
}
