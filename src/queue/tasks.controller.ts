import {
  applyIdempotencyKeyHeader,
  IdempotencyKeyHeader,
} from '../common/http/idempotency-key.header';
import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { createZodDto } from 'nestjs-zod';
import type { Page } from '../common/http/pagination';
import {
  createTaskSchema,
  getTaskQuerySchema,
  idParamSchema,
  listTasksQuerySchema,
} from './task.schemas';
import {
  ApiCommonErrors,
  ApiConflict,
  ApiInvalid,
  ApiTooLarge,
  ApiUnknown,
  TaskPageDto,
  TaskRecordDto,
  TaskTreeNodeDto,
} from './queue-api.dto';
import { TaskQueueService } from './task-queue.service';
import type { TaskRecord, TaskTreeNode } from './task.types';
import { CurrentPrincipal } from '../auth/auth.decorators';
import type { Principal } from '../auth/principal.type';
import { TaskScopePolicy } from '../auth/task-scope.policy';
import { RecordsHumanAction } from '../observability/human-actions/human-action.interceptor';

class CreateTaskDto extends createZodDto(createTaskSchema) {}
class ListTasksQueryDto extends createZodDto(listTasksQuerySchema) {}
class TaskIdParamDto extends createZodDto(idParamSchema) {}
class GetTaskQueryDto extends createZodDto(getTaskQuerySchema) {}

@ApiTags('tasks')
@ApiCommonErrors()
@Controller('v1/tasks')
export class TasksController {
  constructor(
    private readonly queue: TaskQueueService,
    private readonly scope: TaskScopePolicy,
  ) {}

  @Post()
  @ApiOperation({
    summary: 'Submit a task (201; 200 with the same task when the idempotency key was seen)',
  })
  @ApiCreatedResponse({ type: TaskRecordDto, description: 'Accepted: BLOCKED or READY' })
  @ApiOkResponse({ type: TaskRecordDto, description: 'Idempotency key seen: the existing task' })
  @ApiInvalid()
  @ApiConflict('a task with this id already exists')
  @ApiTooLarge()
  async create(
    @Body() body: CreateTaskDto,
    @IdempotencyKeyHeader() idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
    @CurrentPrincipal() principal: Principal,
  ): Promise<TaskRecord> {
    const { task, created } = await this.queue.enqueue(
      applyIdempotencyKeyHeader(body, idempotencyKey),
    );
    // A key seen before answers with the earlier task: a task credential gets it only when that
    // task is in its own tree (an implicit delegation key names another tree's child otherwise).
    if (!created) await this.scope.assertInTree(principal, task.id);
    void reply.status(created ? 201 : 200);
    return task;
  }

  @Get()
  @ApiOperation({ summary: 'List tasks (filters: status, agent, workflow, capability)' })
  @ApiOkResponse({ type: TaskPageDto })
  @ApiInvalid('VALIDATION_FAILED: unknown filter, bad status or cursor')
  list(@Query() query: ListTasksQueryDto): Promise<Page<TaskRecord>> {
    return this.queue.listTasks(query);
  }

  @Get(':id')
  @ApiOperation({
    summary: 'A task: status, attempt, inputs, result or error',
    description:
      'With `waitSeconds`, a long poll: answers as soon as the task is terminal (on any control plane), or with its current state when the time is up.',
  })
  @ApiOkResponse({ type: TaskRecordDto })
  @ApiInvalid('VALIDATION_FAILED: malformed id or waitSeconds')
  @ApiUnknown('task')
  get(@Param() params: TaskIdParamDto, @Query() query: GetTaskQueryDto): Promise<TaskRecord> {
    if (query.waitSeconds) return this.queue.waitForTerminal(params.id, query.waitSeconds * 1000);
    return this.queue.getTask(params.id);
  }

  @Get(':id/tree')
  @ApiOperation({
    summary:
      'The delegation tree under a task: each node with status, agent, timings, cost and children',
  })
  @ApiOkResponse({ type: TaskTreeNodeDto })
  @ApiUnknown('task')
  tree(@Param() params: TaskIdParamDto): Promise<TaskTreeNode> {
    return this.queue.getTaskTree(params.id);
  }

  @Post(':id/cancel')
  @RecordsHumanAction('cancel_task', 'id')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel a non-terminal task (409 when already terminal)' })
  @ApiOkResponse({ type: TaskRecordDto, description: 'Now CANCELLED' })
  @ApiUnknown('task')
  @ApiConflict('the task already ended (COMPLETED, FAILED or CANCELLED)')
  cancel(@Param() params: TaskIdParamDto): Promise<TaskRecord> {
    return this.queue.cancel(params.id, 'user');
  }
}
