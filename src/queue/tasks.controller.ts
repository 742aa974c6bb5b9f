import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { createZodDto } from 'nestjs-zod';
import type { Page } from '../common/http/pagination';
import { createTaskSchema, idParamSchema, listTasksQuerySchema } from './task.schemas';
import { TaskQueueService } from './task-queue.service';
import type { TaskRecord } from './task.types';

class CreateTaskDto extends createZodDto(createTaskSchema) {}
class ListTasksQueryDto extends createZodDto(listTasksQuerySchema) {}
class TaskIdParamDto extends createZodDto(idParamSchema) {}

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
  @ApiOperation({ summary: 'A task: status, attempt, inputs, result or error' })
  get(@Param() params: TaskIdParamDto): Promise<TaskRecord> {
    return this.queue.getTask(params.id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel a non-terminal task (409 when already terminal)' })
  cancel(@Param() params: TaskIdParamDto): Promise<TaskRecord> {
    return this.queue.cancel(params.id, 'user');
  }
}
