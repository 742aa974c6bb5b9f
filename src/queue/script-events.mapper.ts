import { Injectable } from '@nestjs/common';
import { EventsService } from '../events/events.service';
import type { SwitchyardEventType } from '../events/switchyard-event.type';
import { MetricsService } from '../observability/metrics.service';
import type { ScriptEvent } from './script-result';

const EVENT_TYPES: Record<string, SwitchyardEventType> = {
  created: 'task.created',
  ready: 'task.ready',
  retrying: 'task.retrying',
  waiting: 'task.waiting',
  completed: 'task.completed',
  failed: 'task.failed',
  cancelled: 'task.cancelled',
};

/** Turns what a Lua script reports into events (live feed, in-process listeners) and metrics. */
@Injectable()
export class ScriptEventsMapper {
  constructor(
    private readonly events: EventsService,
    private readonly metrics: MetricsService,
  ) {}

  emit(events: ScriptEvent[], wasRunning: ReadonlySet<string> = new Set()): void {
    for (const [kind, id, reason, capability, workflowId, agentId, attempt] of events) {
      if (kind === 'workflow') {
        this.events.emit(`workflow.${reason.toLowerCase()}` as SwitchyardEventType, {
          workflowId: id,
        });
        continue;
      }
      const type = EVENT_TYPES[kind];
      if (!type) continue;
      if (kind === 'completed' || kind === 'failed' || kind === 'cancelled') {
        this.metrics.tasksTotal.inc({ agent: agentId || 'none', status: kind.toUpperCase() });
      }
      const data: Record<string, unknown> = { attempt: Number(attempt) };
      if (reason) data.reason = reason;
      if (wasRunning.has(id)) data.wasRunning = true;
      this.events.emit(type, {
        taskId: id,
        workflowId: workflowId || undefined,
        capability: capability || undefined,
        agentId: agentId || undefined,
        data,
      });
    }
  }
}
