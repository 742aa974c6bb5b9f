import { Injectable, Logger, Optional } from '@nestjs/common';
import { MetricsService } from '../metrics.service';
import { ObservabilityRepository } from '../report/observability.repository';
import type { HumanAction, HumanActionRecord } from './human-action.type';

/** Actions whose target is a task: the report counts that task (and its tree) as not autonomous. */
const TASK_ACTIONS: ReadonlySet<HumanAction> = new Set([
  'requeue',
  'retry',
  'cancel_task',
  'approve',
]);

/**
 * Records every action a person takes on a task or agent: the `task_human_actions_total{action}`
 * counter (per instance: sum it) and one structured log line naming who acted on what, so that
 * "completed without a human" is a fact. Controllers call it through {@link RecordsHumanAction}.
 */
@Injectable()
export class HumanActionsService {
  private readonly logger = new Logger('HumanActions');

  constructor(
    private readonly metrics: MetricsService,
    @Optional() private readonly repo?: ObservabilityRepository,
  ) {}

  record(action: HumanActionRecord): void {
    this.metrics.humanActionsTotal.inc({ action: action.action });
    this.logger.log({
      msg: `human action: ${action.action}`,
      human_action: action.action,
      target: action.target,
      actor: action.actor,
    });
    if (this.repo && action.target && TASK_ACTIONS.has(action.action)) {
      this.repo
        .markHumanTask(action.target, Date.now())
        .catch((e: Error) => this.logger.warn(`cannot record human action: ${e.message}`));
    }
  }
}
