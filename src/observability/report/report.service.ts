import { Injectable } from '@nestjs/common';
import { AppException } from '../../common/errors/app.exception';
import { listTasksQuerySchema } from '../../queue/task.schemas';
import { TaskQueueService } from '../../queue/task-queue.service';
import { TaskStatus } from '../../queue/task.types';
import { ObservabilityRepository, REPORT_RETENTION_MS } from './observability.repository';
import { buildPlanReport, minuteStart, type PlanReport, type ReportTask } from './plan-report.util';

/** Finished task records read per report at most (the rest would make the report slow). */
export const REPORT_TASK_LIMIT = 200_000;
const PAGE = 1000;
const WEEK_MS = 7 * 24 * 3600 * 1000;

/** The plan's weekly table for a period, from the task records and the samples in Redis. */
@Injectable()
export class ReportService {
  constructor(
    private readonly queue: TaskQueueService,
    private readonly repo: ObservabilityRepository,
  ) {}

  /** `from`/`to` as ISO strings; default: the 7 days up to now. */
  async report(fromIso?: string, toIso?: string, now = Date.now()): Promise<PlanReport> {
    const to = toIso ? Date.parse(toIso) : now;
    const from = fromIso ? Date.parse(fromIso) : to - WEEK_MS;
    if (from >= to) {
      throw AppException.validation('Invalid period', [
        { field: 'from', message: 'must be before `to`' },
      ]);
    }
    if (to - from > REPORT_RETENTION_MS) {
      throw AppException.validation('Invalid period', [
        { field: 'from', message: 'the period may span at most 92 days (the samples kept)' },
      ]);
    }
    const { tasks, truncated } = await this.finishedTasks();
    const ids = tasks.flatMap((t) => (t.rootTaskId ? [t.id, t.rootTaskId] : [t.id]));
    const [humanTouched, availability, utilization, recoveriesMs] = await Promise.all([
      this.repo.humanTouched([...new Set(ids)]),
      this.repo.availability(minuteStart(from), to),
      this.repo.utilization(from, to),
      this.repo.recoveries(from, to),
    ]);
    return buildPlanReport({
      from,
      to,
      tasks,
      humanTouched,
      availableMinutes: availability.minutes,
      firstAvailability: availability.firstEver,
      now,
      utilization,
      recoveriesMs,
      truncated,
    });
  }

  /** COMPLETED and FAILED task records still in Redis (finished tasks leave after retention). */
  private async finishedTasks(): Promise<{ tasks: ReportTask[]; truncated: boolean }> {
    const tasks: ReportTask[] = [];
    for (const status of [TaskStatus.Completed, TaskStatus.Failed]) {
      let cursor: string | undefined;
      do {
        const page = await this.queue.listTasks(
          listTasksQuerySchema.parse({ status, limit: PAGE, cursor }),
        );
        for (const t of page.items) tasks.push(t);
        if (tasks.length >= REPORT_TASK_LIMIT) return { tasks, truncated: true };
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
    }
    return { tasks, truncated: false };
  }
}
