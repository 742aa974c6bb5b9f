import { z } from 'zod';

/** Kinds of message on the bus. */
export const MESSAGE_TYPES = [
  'task',
  'response',
  'event',
  'cancel',
  'heartbeat',
  'control',
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/**
 * The one schema for a bus message, checked at publish and at consume (seed 1.3.2).
 * W3C trace context travels in the transport's headers (`traceparent`, `tracestate`), not here.
 */
export const agentMessageSchema = z.strictObject({
  id: z.uuid(),
  fromAgent: z.string().min(1).max(200),
  toAgent: z.string().min(1).max(200),
  taskId: z.string().min(1).max(200).optional(),
  messageType: z.enum(MESSAGE_TYPES),
  payload: z.unknown(),
  correlationId: z.string().min(1).max(200),
  /** ISO-8601 time the message was created. */
  timestamp: z.iso.datetime(),
  /** Routing key (or queue) a response should go to. */
  replyTo: z.string().min(1).max(255).optional(),
  /** 0 (lowest) .. 10 (highest). */
  priority: z.number().int().min(0).max(10).default(5),
  /** Execution attempt of the task this message belongs to (0 for the first). */
  attempt: z.number().int().min(0).default(0),
});

export type AgentMessage = z.infer<typeof agentMessageSchema>;
/** What a caller provides; the bus fills id, timestamp and correlationId when absent. */
export type AgentMessageInput = Omit<
  z.input<typeof agentMessageSchema>,
  'id' | 'timestamp' | 'correlationId'
> & {
  id?: string;
  timestamp?: string;
  correlationId?: string;
};
