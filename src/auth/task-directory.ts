import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { TaskQueueService } from '../queue/task-queue.service';
import type { TaskRecord } from '../queue/task.types';

/**
 * Task lookups for authorisation. The queue is resolved lazily: auth is global and boots before
 * the queue module, and processes without a queue (the worker) never call this.
 */
@Injectable()
export class TaskDirectory {
  private queue?: TaskQueueService;

  constructor(private readonly moduleRef: ModuleRef) {}

  async find(id: string): Promise<TaskRecord | undefined> {
    this.queue ??= this.moduleRef.get(TaskQueueService, { strict: false });
    return this.queue.findTask(id);
  }
}
