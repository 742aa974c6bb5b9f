import { z } from 'zod';
import type { AgentMessage } from '../bus/agent-message.schema';
import { ExecutionFailure } from './executors/execution-error';
import type { ExecutionRequest, ExecutionResult } from './executors/executor.types';

/**
 * The `payload` of a bus message of type `task` sent to an agent (`agent.{agentId}`): what the
 * agent needs to run one attempt. The message's own `taskId` and `attempt` identify it.
 */
export const taskMessagePayloadSchema = z.object({
  capability: z.string().min(1).max(200),
  payload: z.unknown().optional(),
  /** Dependency results by task id (and by ref inside a workflow). */
  inputs: z.record(z.string(), z.unknown()).optional(),
  timeoutMs: z.int().min(1).optional(),
  workflowId: z.string().min(1).optional(),
  ref: z.string().min(1).optional(),
});
export type TaskMessagePayload = z.infer<typeof taskMessagePayloadSchema>;

/**
 * The `payload` of the `response` message a worker sends back: the execution result as is, plus
 * the agent that ran it. Late or duplicate responses are recognised by the receiver through the
 * message's `taskId` + `attempt`.
 */
export type TaskResponsePayload = ExecutionResult & { agentId: string };

/** Builds the runtime's request from a `task` message; throws a `validation` ExecutionFailure when it is malformed. */
export function executionRequestFromMessage(message: AgentMessage): ExecutionRequest {
  if (!message.taskId)
    throw new ExecutionFailure('validation', `task message ${message.id} has no taskId`);
  const parsed = taskMessagePayloadSchema.safeParse(message.payload);
  if (!parsed.success) {
    throw new ExecutionFailure(
      'validation',
      `task message ${message.id}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ')}`,
    );
  }
  const p = parsed.data;
  return {
    taskId: message.taskId,
    attempt: message.attempt,
    capability: p.capability,
    payload: p.payload ?? null,
    inputs: p.inputs ?? {},
    ...(p.timeoutMs !== undefined ? { timeoutMs: p.timeoutMs } : {}),
    ...(p.workflowId ? { workflowId: p.workflowId } : {}),
    ...(p.ref ? { ref: p.ref } : {}),
  };
}
