import type { SwitchyardEvent } from '../events/switchyard-event.type';
import type { LiveFilters } from './live-message.schema';

/**
 * Whether an event passes a subscription's filters: every given field must match (AND); `types`
 * matches any listed type, where `task.*` stands for every `task.` event and `*` for all.
 */
export function matchesFilters(event: SwitchyardEvent, filters: LiveFilters): boolean {
  if (filters.workflowId !== undefined && event.workflowId !== filters.workflowId) return false;
  if (filters.taskId !== undefined && event.taskId !== filters.taskId) return false;
  if (filters.agentId !== undefined && event.agentId !== filters.agentId) return false;
  if (filters.capability !== undefined && event.capability !== filters.capability) return false;
  if (filters.types !== undefined) {
    return filters.types.some(
      (t) =>
        t === event.type ||
        t === '*' ||
        (t.endsWith('.*') && event.type.startsWith(t.slice(0, -1))),
    );
  }
  return true;
}
