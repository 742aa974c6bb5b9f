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
