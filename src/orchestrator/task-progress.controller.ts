import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { idParamSchema } from '../queue/task.schemas';
import { TaskQueueService } from '../queue/task-queue.service';
import { type StoredProgressStep, TaskProgressStore } from './task-progress.store';

const progressQuerySchema = z.strictObject({
  /** Only steps after this attempt… */
  afterAttempt: z.coerce.number().int().min(0).optional(),
  /** …and this seq (both or neither). */
  afterSeq: z.coerce.number().int().min(0).optional(),
});
class ProgressQueryDto extends createZodDto(progressQuerySchema) {}
class TaskIdParamDto extends createZodDto(idParamSchema) {}

/** `GET /v1/tasks/{id}/progress`: the last steps of a task (what `switchyard task logs` shows). */
@ApiTags('tasks')
@Controller('v1/tasks')
export class TaskProgressController {
  constructor(
    private readonly queue: TaskQueueService,
    private readonly store: TaskProgressStore,
  ) {}

  @Get(':id/progress')
  @ApiOperation({
    summary: "A task's live transcript: its last 200 progress steps (claude agents), oldest first",
  })
  async progress(
    @Param() params: TaskIdParamDto,
    @Query() query: ProgressQueryDto,
  ): Promise<{ taskId: string; status: string; steps: StoredProgressStep[] }> {
    const task = await this.queue.getTask(params.id); // 404 for an unknown task
    const after =
      query.afterAttempt !== undefined
        ? { attempt: query.afterAttempt, seq: query.afterSeq ?? -1 }
        : undefined;
    return { taskId: task.id, status: task.status, steps: await this.store.list(task.id, after) };
  }
}
