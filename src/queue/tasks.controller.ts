import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { createZodDto } from 'nestjs-zod';
import type { Page } from '../common/http/pagination';
import {
  createTaskSchema,
  getTaskQuerySchema,
  idParamSchema,
  listTasksQuerySchema,
} from './task.schemas';
import { TaskQueueService } from './task-queue.service';
import type { TaskRecord, TaskTreeNode } from './task.types';

class CreateTaskDto extends createZodDto(createTaskSchema) {}
class ListTasksQueryDto extends createZodDto(listTasksQuerySchema) {}
class TaskIdParamDto extends createZodDto(idParamSchema) {}
class GetTaskQueryDto extends createZodDto(getTaskQuerySchema) {}

@ApiTags('tasks')
@Controller('v1/tasks')
export class TasksController {
  constructor(private readonly queue: TaskQueueService) {}

  @Post()
  @ApiOperation({
    summary: 'Submit a task (201; 200 with the same task when the idempotency key was seen)',
  })
  async create(
    @Body() body: CreateTaskDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskRecord> {
    const { task, created } = await this.queue.enqueue(body);
    void reply.status(created ? 201 : 200);
    return task;
  }

  @Get()
  @ApiOperation({ summary: 'List tasks (filters: status, agent, workflow, capability)' })
  list(@Query() query: ListTasksQueryDto): Promise<Page<TaskRecord>> {
    return this.queue.listTasks(query);
  }

  @Get(':id')
  @ApiOperation({
    summary: 'A task: status, attempt, inputs, result or error',
    description:
      'With `waitSeconds`, a long poll: answers as soon as the task is terminal (on any control plane), or with its current state when the time is up.',
  })
  get(@Param() params: TaskIdParamDto, @Query() query: GetTaskQueryDto): Promise<TaskRecord> {
    if (query.waitSeconds) return this.queue.waitForTerminal(params.id, query.waitSeconds * 1000);
    return this.queue.getTask(params.id);
  }

  @Get(':id/tree')
  @ApiOperation({
    summary:
      'The delegation tree under a task: each node with status, agent, timings, cost and children',
  })
  tree(@Param() params: TaskIdParamDto): Promise<TaskTreeNode> {
    return this.queue.getTaskTree(params.id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel a non-terminal task (409 when already terminal)' })
  cancel(@Param() params: TaskIdParamDto): Promise<TaskRecord> {
    return this.queue.cancel(params.id, 'user');
  }
}
