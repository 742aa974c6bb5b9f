import { applyDecorators } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiPayloadTooLargeResponse,
  ApiServiceUnavailableResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { pageSchema } from '../common/http/pagination';
import { RUN_STATUSES } from './workflow-list.query';
import { TaskStatus } from './task.types';

// Response bodies of the tasks, workflows and queue routes, for the OpenAPI document only (the
// services return the TypeScript types in task.types.ts; these describe the same shapes).

const iso = z.iso.datetime();

export const errorBodySchema = z.object({
  error: z.object({
    code: z.string().describe('Stable code, e.g. VALIDATION_FAILED, NOT_FOUND, CONFLICT'),
    message: z.string(),
    details: z.unknown().optional().describe('e.g. {"fields":[{"field","message"}]} for 400'),
    requestId: z.string().optional(),
  }),
});
export class ErrorBodyDto extends createZodDto(errorBodySchema) {}

const taskErrorSchema = z.object({
  type: z.string().describe('timeout, connection, agent_busy, validation, upstream_failed, ...'),
  message: z.string(),
  retryable: z.boolean(),
  details: z.unknown().optional(),
});

const costSchema = z.object({
  usd: z.number(),
  inputTokens: z.int(),
  outputTokens: z.int(),
  tokens: z.int(),
});

export const taskRecordSchema = z.object({
  id: z.string(),
  workflowId: z.string().optional(),
  ref: z.string().optional().describe('Workflow-local reference'),
  description: z.string().optional(),
  capability: z.string(),
  payload: z.unknown(),
  priority: z.int().min(1).max(10),
  dependsOn: z.array(z.string()),
  onDependencyFailure: z.enum(['fail', 'skip', 'continue']),
  timeoutMs: z.int(),
  retry: z.object({
    maxRetries: z.int(),
    baseDelayMs: z.int(),
    maxDelayMs: z.int(),
    jitter: z.tuple([z.number(), z.number()]),
    retryOn: z.array(z.string()).optional(),
    noRetryOn: z.array(z.string()).optional(),
  }),
  idempotencyKey: z.string().optional(),
  status: z.enum(TaskStatus),
  reason: z.string().optional().describe('Why it is CANCELLED/FAILED/waiting'),
  attempt: z.int().describe('Current attempt, 0 for the first'),
  agentId: z.string().optional(),
  inputs: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('Results of COMPLETED dependencies by task id (and by ref inside a workflow)'),
  result: z.unknown().optional(),
  error: taskErrorSchema.optional(),
  createdAt: iso,
  updatedAt: iso,
  startedAt: iso.optional(),
  completedAt: iso.optional(),
  retryAt: iso.optional().describe('When a scheduled retry makes it READY again'),
  runs: z.int().optional(),
  parentTaskId: z.string().optional().describe('The task that delegated this one'),
  rootTaskId: z.string().optional().describe('Root of its delegation tree'),
  depth: z.int().optional().describe('0 for a root, parent + 1 for a child'),
  budget: z.object({ usd: z.number().optional(), tokens: z.int().optional() }).optional(),
  cost: costSchema.optional().describe("This task's own attempts"),
  treeCost: costSchema.optional().describe('Its own cost plus every descendant'),
  waitingSince: iso
    .optional()
    .describe('Since when it waits for a live agent with its capability (parked)'),
  waitTimeoutSeconds: z.int().optional(),
  attempts: z
    .array(
      z.object({
        attempt: z.int(),
        agentId: z.string().optional(),
        startedAt: iso.optional(),
        endedAt: iso,
        outcome: z.enum(['completed', 'failed', 'retried', 'lost', 'cancelled']),
        errorType: z.string().optional(),
      }),
    )
    .optional()
    .describe('Every attempt that ended, oldest first (the last 50; on GET /v1/tasks/{id})'),
});
export class TaskRecordDto extends createZodDto(taskRecordSchema) {}
export class TaskPageDto extends createZodDto(pageSchema(taskRecordSchema)) {}

interface TreeNode {
  id: string;
  capability: string;
  status: TaskStatus;
  agentId?: string;
  depth: number;
  createdAt: string;
  startedAt?: string;
  completedAt?: string;
  children: TreeNode[];
}
const taskTreeNodeSchema: z.ZodType<TreeNode> = z.lazy(() =>
  z.object({
    id: z.string(),
    capability: z.string(),
    status: z.enum(TaskStatus),
    agentId: z.string().optional(),
    depth: z.int(),
    createdAt: iso,
    startedAt: iso.optional(),
    completedAt: iso.optional(),
    cost: costSchema.optional(),
    treeCost: costSchema.optional(),
    error: taskErrorSchema.optional(),
    children: z.array(taskTreeNodeSchema),
  }),
);
export class TaskTreeNodeDto extends createZodDto(taskTreeNodeSchema) {}

const workflowRecordSchema = z.object({
  id: z.string(),
  name: z.string().optional(),
  status: z.enum(['RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED']),
  total: z.int(),
  completed: z.int(),
  failed: z.int(),
  cancelled: z.int(),
  createdAt: iso,
  updatedAt: iso,
  finishedAt: iso.optional(),
  idempotencyKey: z.string().optional(),
});
export class WorkflowWithTasksDto extends createZodDto(
  z.object({ workflow: workflowRecordSchema, tasks: z.array(taskRecordSchema) }),
) {}
export class WorkflowCancelledDto extends createZodDto(
  z.object({ workflow: workflowRecordSchema, cancelled: z.int() }),
) {}

const runSummarySchema = z.object({
  kind: z.enum(['workflow', 'task']),
  id: z.string(),
  name: z.string().optional(),
  status: z.enum(RUN_STATUSES),
  createdAt: iso,
  updatedAt: iso,
  finishedAt: iso.optional(),
  durationMs: z.number(),
  counts: z.object({
    total: z.int(),
    completed: z.int(),
    failed: z.int(),
    cancelled: z.int(),
    active: z.int().describe('Blocked, ready or running'),
  }),
  cost: costSchema.optional().describe('Tasks and their delegated children, once reported'),
  capability: z.string().optional(),
  agentId: z.string().optional(),
  attempt: z.int().optional(),
});
export class RunPageDto extends createZodDto(pageSchema(runSummarySchema)) {}

export class QueueCountsDto extends createZodDto(
  z.object({
    ready: z.int(),
    blocked: z.int(),
    running: z.int(),
    delayed: z.int().describe('READY but waiting for a retry time'),
    completed: z.int(),
    failed: z.int(),
    cancelled: z.int(),
    deadLetter: z.int(),
  }),
) {}
export class DeadlocksDto extends createZodDto(
  z.object({
    cycles: z.array(z.object({ taskIds: z.array(z.string()), victim: z.string() })),
    blocked: z.int(),
    tookMs: z.number(),
  }),
) {}
export class ResolvedDeadlocksDto extends createZodDto(
  z.object({
    resolved: z.array(z.object({ cycle: z.array(z.string()), cancelled: z.string() })),
  }),
) {}

/** 401, 403 and 503: what every queue route can answer. */
export const ApiCommonErrors = () =>
  applyDecorators(
    ApiUnauthorizedResponse({
      type: ErrorBodyDto,
      description: 'UNAUTHENTICATED: no or bad token',
    }),
    ApiForbiddenResponse({
      type: ErrorBodyDto,
      description: 'FORBIDDEN: the role may not do this',
    }),
    ApiServiceUnavailableResponse({
      type: ErrorBodyDto,
      description: 'DEPENDENCY_UNAVAILABLE: Redis cannot be reached; retry later',
    }),
  );

export const ApiInvalid = (description = 'VALIDATION_FAILED: each bad field named') =>
  ApiBadRequestResponse({ type: ErrorBodyDto, description });
export const ApiUnknown = (what: string) =>
  ApiNotFoundResponse({ type: ErrorBodyDto, description: `NOT_FOUND: no such ${what}` });
export const ApiConflict = (description: string) =>
  ApiConflictResponse({ type: ErrorBodyDto, description: `CONFLICT: ${description}` });
export const ApiTooLarge = () =>
  ApiPayloadTooLargeResponse({
    type: ErrorBodyDto,
    description: 'PAYLOAD_TOO_LARGE: body or payload over the limit',
  });
