import { Body, Controller, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { createZodDto } from 'nestjs-zod';
import { createWorkflowSchema, idParamSchema } from './task.schemas';
import { TaskQueueService, type WorkflowRecord } from './task-queue.service';
import type { TaskRecord } from './task.types';

class CreateWorkflowDto extends createZodDto(createWorkflowSchema) {}
class WorkflowIdParamDto extends createZodDto(idParamSchema) {}

@ApiTags('workflows')
@Controller('v1/workflows')
export class WorkflowsController {
  constructor(private readonly queue: TaskQueueService) {}

  @Post()
  @ApiOperation({
    summary: 'Submit a workflow: a DAG of tasks with local refs (400 naming the cycle if any)',
  })
  async create(
    @Body() body: CreateWorkflowDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ workflow: WorkflowRecord; tasks: TaskRecord[] }> {
    const { workflow, tasks, created } = await this.queue.submitWorkflow(body);
    void reply.status(created ? 201 : 200);
    return { workflow, tasks };
  }

  @Get(':id')
  @ApiOperation({ summary: 'A workflow and the states of its tasks' })
  get(
    @Param() params: WorkflowIdParamDto,
  ): Promise<{ workflow: WorkflowRecord; tasks: TaskRecord[] }> {
    return this.queue.getWorkflow(params.id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel every non-terminal task of a workflow' })
  cancel(
    @Param() params: WorkflowIdParamDto,
  ): Promise<{ workflow: WorkflowRecord; cancelled: number }> {
    return this.queue.cancelWorkflow(params.id);
  }
}
