import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import type { Page } from '../common/http/pagination';
import { idParamSchema, pageQuerySchema } from './task.schemas';
import {
  ApiCommonErrors,
  ApiConflict,
  ApiInvalid,
  ApiUnknown,
  DeadlocksDto,
  QueueCountsDto,
  ResolvedDeadlocksDto,
  TaskPageDto,
  TaskRecordDto,
} from './queue-api.dto';
import { type DeadlockCycle, type QueueCounts, TaskQueueService } from './task-queue.service';
import type { TaskRecord } from './task.types';
import { RecordsHumanAction } from '../observability/human-actions/human-action.interceptor';

class PageQueryDto extends createZodDto(pageQuerySchema) {}
class TaskIdParamDto extends createZodDto(idParamSchema) {}

@ApiTags('queue')
@ApiCommonErrors()
@Controller('v1/queue')
export class QueueController {
  constructor(private readonly queue: TaskQueueService) {}

  @Get()
  @ApiOperation({
    summary: 'Task counts: ready, blocked, running, delayed (retry wait), failed...',
  })
  @ApiOkResponse({ type: QueueCountsDto })
  counts(): Promise<QueueCounts> {
    return this.queue.counts();
  }

  @Get('deadlocks')
  @ApiOperation({ summary: 'Dependency cycles among BLOCKED tasks' })
  @ApiOkResponse({ type: DeadlocksDto })
  deadlocks(): Promise<{ cycles: DeadlockCycle[]; blocked: number; tookMs: number }> {
    return this.queue.detectDeadlocks();
  }

  @Post('deadlocks/resolve')
  @RecordsHumanAction('deadlock_resolve')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel the lowest-priority task of each cycle (reason deadlock)' })
  @ApiOkResponse({ type: ResolvedDeadlocksDto })
  resolve(): Promise<{ resolved: { cycle: string[]; cancelled: string }[] }> {
    return this.queue.resolveDeadlocks();
  }

  @Get('dead-letter')
  @ApiOperation({ summary: 'Tasks that FAILED after their last retry (or a permanent error)' })
  @ApiOkResponse({ type: TaskPageDto })
  @ApiInvalid('VALIDATION_FAILED: bad limit or cursor')
  deadLetter(@Query() query: PageQueryDto): Promise<Page<TaskRecord>> {
    return this.queue.deadLetter(query.limit, query.cursor);
  }

  @Post('dead-letter/:id/requeue')
  @RecordsHumanAction('requeue', 'id')
  @HttpCode(200)
  @ApiOperation({ summary: 'Run a dead-lettered task again from attempt 0' })
  @ApiOkResponse({ type: TaskRecordDto, description: 'READY (or BLOCKED) again, attempt 0' })
  @ApiUnknown('task')
  @ApiConflict('the task is not in the dead-letter list (not FAILED)')
  requeue(@Param() params: TaskIdParamDto): Promise<TaskRecord> {
    return this.queue.requeue(params.id);
  }
}
