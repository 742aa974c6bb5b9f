import { Module } from '@nestjs/common';
import { StateModule } from '../state/state.module';
import { JobPusher } from './job-pusher.service';
import { QueueController } from './queue.controller';
import { QueueMaintenance } from './queue-maintenance.service';
import { ScriptEffects } from './script-effects.service';
import { ScriptEventsMapper } from './script-events.mapper';
import { TaskLifecycle } from './task-lifecycle.service';
import { TaskQueries } from './task-queries.service';
import { TaskQueueService } from './task-queue.service';
import { TaskStore } from './task-store.repository';
import { TaskSubmission } from './task-submission.service';
import { TaskWatcher } from './task-watcher.service';
import { TasksController } from './tasks.controller';
import { WorkflowListQuery } from './workflow-list.query';
import { WorkflowsController } from './workflows.controller';

/** Every provider of the queue (also used by tests that build the queue without controllers). */
export const QUEUE_PROVIDERS = [
  TaskStore,
  JobPusher,
  ScriptEventsMapper,
  ScriptEffects,
  TaskQueries,
  TaskSubmission,
  TaskLifecycle,
  TaskWatcher,
  QueueMaintenance,
  TaskQueueService,
];

/**
 * Task records, DAG bookkeeping, delegation trees, priorities, retries, deadlocks; BullMQ carries
 * READY work. Loaded by control planes only (maintenance timers run where this module is).
 */
@Module({
  // The state module's archive keeps finished tasks readable after retention removed them.
  imports: [StateModule],
  controllers: [TasksController, WorkflowsController, QueueController],
  providers: [...QUEUE_PROVIDERS, WorkflowListQuery],
  exports: [TaskQueueService, TaskSubmission],
})
export class QueueModule {}
