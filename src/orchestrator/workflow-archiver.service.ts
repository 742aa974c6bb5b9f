import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { EventsService } from '../events/events.service';
import { TaskQueueService } from '../queue/task-queue.service';
import { WorkflowArchiveService } from '../state/workflow-archive.service';

/** Archives each finished workflow (record + its tasks) to the state store (S3 or local dir). */
@Injectable()
export class WorkflowArchiverService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(WorkflowArchiverService.name);
  private unsubscribe?: () => void;

  constructor(
    private readonly events: EventsService,
    private readonly queue: TaskQueueService,
    private readonly archive: WorkflowArchiveService,
  ) {}

  onModuleInit(): void {
    this.unsubscribe = this.events.subscribe((e) => {
      // Only the instance that saw the transition happen archives it (not remote copies).
      if (e.source !== undefined || !e.workflowId) return;
      if (
        e.type === 'workflow.completed' ||
        e.type === 'workflow.failed' ||
        e.type === 'workflow.cancelled'
      ) {
        void this.archiveWorkflow(e.workflowId);
      }
    });
  }

  onModuleDestroy(): void {
    this.unsubscribe?.();
  }

  async archiveWorkflow(workflowId: string): Promise<void> {
    try {
      const workflow = await this.queue.findWorkflow(workflowId);
      if (!workflow) return;
      // Every task, page by page (a workflow may hold QUEUE_MAX_WORKFLOW_TASKS = 10,000).
      const tasks = [];
      let cursor: string | undefined;
      do {
        const page = await this.queue.listTasks({ workflow: workflowId, limit: 1000, cursor });
        tasks.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      await this.archive.archive(workflowId, {
        workflow,
        tasks,
        archivedAt: new Date().toISOString(),
      });
    } catch (e) {
      this.logger.warn(`archiving workflow ${workflowId} failed: ${(e as Error).message}`);
    }
  }
}
