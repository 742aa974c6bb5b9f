import { Module } from '@nestjs/common';
import { QueueController } from './queue.controller';
import { TaskQueueService } from './task-queue.service';
import { TasksController } from './tasks.controller';
import { WorkflowsController } from './workflows.controller';

/** Task records, DAG bookkeeping, priorities, retries, deadlocks; BullMQ carries READY work. */
@Module({
  controllers: [TasksController, WorkflowsController, QueueController],
  providers: [TaskQueueService],
  exports: [TaskQueueService],
})
export class QueueModule {}
