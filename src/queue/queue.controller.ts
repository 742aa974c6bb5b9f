import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import type { Page } from '../common/http/pagination';
import { idParamSchema, pageQuerySchema } from './task.schemas';
import { type DeadlockCycle, type QueueCounts, TaskQueueService } from './task-queue.service';
import type { TaskRecord } from './task.types';

class PageQueryDto extends createZodDto(pageQuerySchema) {}
class TaskIdParamDto extends createZodDto(idParamSchema) {}

@ApiTags('queue')
@Controller('v1/queue')
export class QueueController {
  constructor(private readonly queue: TaskQueueService) {}

  @Get()
  @ApiOperation({
    summary: 'Task counts: ready, blocked, running, delayed (retry wait), failed...',
  })
  counts(): Promise<QueueCounts> {
    return this.queue.counts();
  }

  @Get('deadlocks')
  @ApiOperation({ summary: 'Dependency cycles among BLOCKED tasks' })
  deadlocks(): Promise<{ cycles: DeadlockCycle[]; blocked: number; tookMs: number }> {
    return this.queue.detectDeadlocks();
  }

  @Post('deadlocks/resolve')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel the lowest-priority task of each cycle (reason deadlock)' })
  resolve(): Promise<{ resolved: { cycle: string[]; cancelled: string }[] }> {
    return this.queue.resolveDeadlocks();
  }

  @Get('dead-letter')
  @ApiOperation({ summary: 'Tasks that FAILED after their last retry (or a permanent error)' })
  deadLetter(@Query() query: PageQueryDto): Promise<Page<TaskRecord>> {
    return this.queue.deadLetter(query.limit, query.cursor);
  }

  @Post('dead-letter/:id/requeue')
  @HttpCode(200)
  @ApiOperation({ summary: 'Run a dead-lettered task again from attempt 0' })
  requeue(@Param() params: TaskIdParamDto): Promise<TaskRecord> {
    return this.queue.requeue(params.id);
  }
}
