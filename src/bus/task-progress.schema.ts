import { z } from 'zod';

/**
 * Live progress of a running task, from the worker to the control plane (issue 13): a batch of
 * steps of one task attempt. Sent with `sendTask` to the agent id {@link TASK_PROGRESS_DESTINATION}
 * (`messageType: 'control'`), so exactly one control-plane instance consumes each batch; it
 * stores the steps on the task and emits them as `task.progress` events on the live feed.
 */
export const TASK_PROGRESS_DESTINATION = 'switchyard.progress';

/** Steps kept per task (the oldest are dropped) and the byte budget of what is kept. */
export const TASK_PROGRESS_MAX_STEPS = 200;
export const TASK_PROGRESS_MAX_BYTES = 256 * 1024;
/** Longest summary of one step (longer ones are cut by the sender). */
export const TASK_PROGRESS_MAX_SUMMARY = 600;
/** Steps per message. */
export const TASK_PROGRESS_MAX_BATCH = 50;

export const taskProgressStepSchema = z.strictObject({
  /** 0, 1, 2… per task attempt, in the order the executor produced them. */
  seq: z.number().int().min(0),
  /** ISO time the worker saw the step. */
  at: z.iso.datetime(),
  kind: z.string().min(1).max(32),
  summary: z.string().max(TASK_PROGRESS_MAX_SUMMARY),
  turn: z.number().int().min(0).optional(),
  data: z
    .record(z.string().max(64), z.union([z.string().max(1000), z.number(), z.boolean(), z.null()]))
    .optional(),
});
export type TaskProgressStep = z.infer<typeof taskProgressStepSchema>;

export const taskProgressMessageSchema = z.strictObject({
  kind: z.literal('task.progress'),
  taskId: z.string().min(1).max(200),
  attempt: z.number().int().min(0),
  /** The agent id (`name@worker`) running the attempt. */
  agentId: z.string().min(1).max(200),
  steps: z.array(taskProgressStepSchema).min(1).max(TASK_PROGRESS_MAX_BATCH),
});
export type TaskProgressMessage = z.infer<typeof taskProgressMessageSchema>;
