import {
  applyIdempotencyKeyHeader,
  IdempotencyKeyHeader,
} from '../common/http/idempotency-key.header';
import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { createZodDto } from 'nestjs-zod';
import { createWorkflowSchema, idParamSchema } from './task.schemas';
import {
  ApiCommonErrors,
  ApiConflict,
  ApiInvalid,
  ApiTooLarge,
  ApiUnknown,
  RunPageDto,
  WorkflowCancelledDto,
  WorkflowWithTasksDto,
} from './queue-api.dto';
import { TaskQueueService, type WorkflowRecord } from './task-queue.service';
import type { TaskRecord } from './task.types';
import type { Page } from '../common/http/pagination';
import { listRunsQuerySchema, type RunSummary, WorkflowListQuery } from './workflow-list.query';
import { RecordsHumanAction } from '../observability/human-actions/human-action.interceptor';

class CreateWorkflowDto extends createZodDto(createWorkflowSchema) {}
class WorkflowIdParamDto extends createZodDto(idParamSchema) {}
class ListRunsQueryDto extends createZodDto(listRunsQuerySchema) {}

@ApiTags('workflows')
@ApiCommonErrors()
@Controller('v1/workflows')
export class WorkflowsController {
  constructor(
    private readonly queue: TaskQueueService,
    private readonly runs: WorkflowListQuery,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'List runs newest first: workflows (default), standalone tasks or both',
    description:
      'Filters: kind, status, name, q (id or name), since/until; cursor pagination. A filtered page may hold fewer than `limit` rows with a `nextCursor` when the scan budget ran out: follow it.',
  })
  @ApiOkResponse({ type: RunPageDto })
  @ApiInvalid('VALIDATION_FAILED: bad kind/status/time filter or cursor')
  list(@Query() query: ListRunsQueryDto): Promise<Page<RunSummary>> {
    return this.runs.list(query);
  }

  @Post()
  @ApiOperation({
    summary: 'Submit a workflow: a DAG of tasks with local refs (400 naming the cycle if any)',
  })
  @ApiCreatedResponse({ type: WorkflowWithTasksDto, description: 'Accepted' })
  @ApiOkResponse({
    type: WorkflowWithTasksDto,
    description: 'Idempotency key seen: the existing run',
  })
  @ApiInvalid(
    'VALIDATION_FAILED: bad field, unknown or duplicate ref, or a dependency cycle (named)',
  )
  @ApiConflict('a task id given in the workflow already exists')
  @ApiTooLarge()
  async create(
    @Body() body: CreateWorkflowDto,
    @IdempotencyKeyHeader() idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ workflow: WorkflowRecord; tasks: TaskRecord[] }> {
    const { workflow, tasks, created } = await this.queue.submitWorkflow(
      applyIdempotencyKeyHeader(body, idempotencyKey),
    );
    void reply.status(created ? 201 : 200);
    return { workflow, tasks };
  }

  @Get(':id')
  @ApiOperation({ summary: 'A workflow and the states of its tasks' })
  @ApiOkResponse({ type: WorkflowWithTasksDto })
  @ApiUnknown('workflow')
  get(
    @Param() params: WorkflowIdParamDto,
  ): Promise<{ workflow: WorkflowRecord; tasks: TaskRecord[] }> {
    return this.queue.getWorkflow(params.id);
  }

  @Post(':id/cancel')
  @RecordsHumanAction('cancel_workflow', 'id')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel every non-terminal task of a workflow' })
  @ApiOkResponse({ type: WorkflowCancelledDto })
  @ApiUnknown('workflow')
  @ApiConflict('the workflow already ended')
  cancel(
    @Param() params: WorkflowIdParamDto,
  ): Promise<{ workflow: WorkflowRecord; cancelled: number }> {
    return this.queue.cancelWorkflow(params.id);
  }
}
