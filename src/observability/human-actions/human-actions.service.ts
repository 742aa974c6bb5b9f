import { Injectable, Logger } from '@nestjs/common';
import { MetricsService } from '../metrics.service';
import type { HumanActionRecord } from './human-action.type';

/**
 * Records every action a person takes on a task or agent: the `task_human_actions_total{action}`
 * counter (per instance: sum it) and one structured log line naming who acted on what, so that
 * "completed without a human" is a fact. Controllers call it through {@link RecordsHumanAction}.
 */
@Injectable()
export class HumanActionsService {
  private readonly logger = new Logger('HumanActions');

  constructor(private readonly metrics: MetricsService) {}

  record(action: HumanActionRecord): void {
    this.metrics.humanActionsTotal.inc({ action: action.action });
    this.logger.log({
      msg: `human action: ${action.action}`,
      human_action: action.action,
      target: action.target,
      actor: action.actor,
    });
  }
}
