import { z } from 'zod';
import { paginationQuery } from '../common/http/pagination';
import { Priority, TaskStatus } from './task.types';

/**
 * Task ids: client-chosen or generated; used inside Redis keys and BullMQ job ids. They start
 * with a letter or digit like every other id, so `.` and `..` (path segments) are refused.
 */
export const taskIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/,
    'must be 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit',
  );

const refSchema = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,128}$/, 'must be 1-128 letters, digits, ".", "_" or "-"');

export const prioritySchema = z
  .union([
    z.int().min(1, 'must be 1..10').max(10, 'must be 1..10'),
    z.enum(['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'BACKGROUND']),
  ])
  .transform((p) => (typeof p === 'number' ? p : Priority[p]))
  .describe('1..10 (higher first) or CRITICAL=10, HIGH=7, MEDIUM=5, LOW=3, BACKGROUND=1');

export const retryOverrideSchema = z
  .strictObject({
    maxRetries: z.int().min(0).max(100).optional(),
    baseDelayMs: z.int().min(0).max(86_400_000).optional(),
    maxDelayMs: z.int().min(0).max(86_400_000).optional(),
    jitter: z
      .tuple([z.number().min(0).max(10), z.number().min(0).max(10)])
      .refine(([lo, hi]) => lo <= hi, 'lower bound must not exceed upper bound')
      .optional(),
    retryOn: z.array(z.string().min(1).max(100)).max(50).optional(),
    noRetryOn: z.array(z.string().min(1).max(100)).max(50).optional(),
  })
  .describe('Per-task override of the retry policy');

export const budgetSchema = z
  .strictObject({
    usd: z.number().positive().max(1_000_000).optional(),
    tokens: z.int().positive().max(1_000_000_000_000).optional(),
  })
  .refine((b) => b.usd !== undefined || b.tokens !== undefined, 'give usd, tokens or both')
  .describe('Spending limit for the task and everything it delegates (or the whole workflow)');

const taskFields = {
  description: z.string().max(10_000).optional(),
  capability: z.string().min(1).max(200).describe('What kind of agent may run it'),
  payload: z.unknown().optional().describe('Any JSON; size limited by QUEUE_MAX_PAYLOAD_BYTES'),
  priority: prioritySchema.optional(),
  onDependencyFailure: z.enum(['fail', 'skip', 'continue']).optional(),
  timeoutMs: z.int().min(1).max(86_400_000).optional(),
  retry: retryOverrideSchema.optional(),
  budget: budgetSchema.optional(),
  waitTimeoutSeconds: z
    .int()
    .min(1)
    .max(30 * 86_400)
    .optional()
    .describe(
      'Fail with NO_AGENT (no_agent) after waiting this long for a live agent with the capability (default QUEUE_DEFAULT_WAIT_TIMEOUT_SECONDS; 0 there = wait forever)',
    ),
};

export const createTaskSchema = z.strictObject({
  id: taskIdSchema.optional().describe('Client-chosen id (default: a UUID)'),
  ...taskFields,
  dependsOn: z
    .array(taskIdSchema)
    .max(1000)
    .optional()
    .describe('Ids of tasks this one waits for; they may be submitted later or elsewhere'),
  idempotencyKey: z.string().min(1).max(256).optional(),
  parentTaskId: taskIdSchema
    .optional()
    .describe('Delegate: the new task is a child of this (live) task, in its delegation tree'),
});
export type CreateTaskInput = z.infer<typeof createTaskSchema>;

export const workflowTaskSchema = z.strictObject({
  ref: refSchema.describe('Reference local to this workflow'),
  id: taskIdSchema.optional(),
  ...taskFields,
  dependsOn: z.array(refSchema).max(1000).optional().describe('Refs of tasks of this workflow'),
  dependsOnTasks: z
    .array(taskIdSchema)
    .max(1000)
    .optional()
    .describe('Ids of tasks outside this workflow'),
});
export type WorkflowTaskInput = z.infer<typeof workflowTaskSchema>;

export const createWorkflowSchema = z.strictObject({
  name: z.string().max(200).optional(),
  idempotencyKey: z.string().min(1).max(256).optional(),
  budget: budgetSchema.optional(),
  tasks: z.array(workflowTaskSchema).min(1),
});
export type CreateWorkflowInput = z.infer<typeof createWorkflowSchema>;

export const listTasksQuerySchema = z.strictObject({
  status: z
    .preprocess((v) => (typeof v === 'string' ? v.toUpperCase() : v), z.enum(TaskStatus))
    .optional()
    .describe('Task status (case-insensitive)'),
  agent: z.string().min(1).max(200).optional(),
  workflow: taskIdSchema.optional(),
  capability: z.string().min(1).max(200).optional(),
  ...paginationQuery,
});
export type ListTasksQuery = z.infer<typeof listTasksQuerySchema>;

export const pageQuerySchema = z.strictObject({ ...paginationQuery });

export const idParamSchema = z.strictObject({ id: taskIdSchema });

export const getTaskQuerySchema = z.strictObject({
  waitSeconds: z.coerce
    .number()
    .int()
    .min(0)
    .max(300)
    .optional()
    .describe('Long poll: wait up to this long for the task to end (0-300)'),
});
