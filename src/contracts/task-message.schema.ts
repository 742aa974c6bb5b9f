import { z } from 'zod';

/**
 * Payload of a `task` message from the orchestrator to an agent (AgentMessage.payload), and of
 * the agent's `response`. Both ends validate with these schemas.
 */
export const taskMessagePayloadSchema = z.strictObject({
  capability: z.string().min(1),
  payload: z.unknown(),
  /** Results of the task's dependencies, by task id and by workflow ref. */
  inputs: z.record(z.string(), z.unknown()).default({}),
  timeoutMs: z.number().int().positive(),
  workflowId: z.string().optional(),
  description: z.string().optional(),
  /** Delegation tree of the task (the agent may delegate children of it). */
  parentTaskId: z.string().optional(),
  rootTaskId: z.string().optional(),
  depth: z.number().int().min(0).optional(),
  /** What is left of the tightest budget above the task, when one is set. */
  budgetLeftUsd: z.number().optional(),
  /** Short-lived credential scoped to this task (MCP / REST calls of the agent). Never logged. */
  credential: z.string().optional(),
  /** Claude session of an earlier attempt to resume (set after a stall or timeout). */
  resumeSessionId: z.string().optional(),
});
export type TaskMessagePayload = z.infer<typeof taskMessagePayloadSchema>;

export const taskErrorSchema = z.object({
  type: z.string().min(1),
  message: z.string(),
  retryable: z.boolean(),
  details: z.unknown().optional(),
});

export const usageSchema = z
  .object({
    costUsd: z.number().optional(),
    inputTokens: z.number().optional(),
    outputTokens: z.number().optional(),
    turns: z.number().optional(),
    durationMs: z.number().optional(),
  })
  .partial();

export const taskResultPayloadSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), output: z.unknown(), usage: usageSchema.optional() }),
  z.object({ ok: z.literal(false), error: taskErrorSchema, usage: usageSchema.optional() }),
]);
export type TaskResultPayload = z.infer<typeof taskResultPayloadSchema>;

/** Payload of a `cancel` message: abort this task's running attempt. */
export const cancelMessagePayloadSchema = z.object({ reason: z.string().default('user') });
