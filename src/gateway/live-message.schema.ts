import { z } from 'zod';
import type { SwitchyardEvent, SwitchyardEventType } from '../events/switchyard-event.type';

/** Every event type the feed can carry (keep in step with {@link SwitchyardEventType}). */
export const LIVE_EVENT_TYPES = [
  'agent.registered',
  'agent.status',
  'agent.expired',
  'agent.deregistered',
  'task.created',
  'task.ready',
  'task.running',
  'task.retrying',
  'task.completed',
  'task.failed',
  'task.cancelled',
  'task.deadlocked',
  'task.waiting',
  'task.progress',
  'workflow.completed',
  'workflow.failed',
  'workflow.cancelled',
  'breaker.opened',
  'breaker.half_open',
  'breaker.closed',
] as const satisfies readonly SwitchyardEventType[];

// Fails to compile when SwitchyardEventType gains a member the list above lacks.
type MissingTypes = Exclude<SwitchyardEventType, (typeof LIVE_EVENT_TYPES)[number]>;
const allTypesListed: MissingTypes extends never ? true : MissingTypes = true;
void allTypesListed;

const id = z.string().min(1).max(200);

/** An exact event type (`task.completed`) or a family (`task.*`). */
const typePattern = z
  .string()
  .refine(
    (t) =>
      (LIVE_EVENT_TYPES as readonly string[]).includes(t) ||
      ['agent.*', 'task.*', 'workflow.*', 'breaker.*', '*'].includes(t),
    {
      message: `unknown event type (use one of ${LIVE_EVENT_TYPES.join(', ')}, or a family like task.*)`,
    },
  );

export const liveFiltersSchema = z.strictObject({
  workflowId: id.optional(),
  taskId: id.optional(),
  agentId: id.optional(),
  capability: id.optional(),
  types: z.array(typePattern).min(1).max(50).optional(),
});
export type LiveFilters = z.infer<typeof liveFiltersSchema>;

/** Messages a client may send. Anything else is answered with an `error` message. */
export const liveClientMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('auth'), token: z.string().min(1).max(4096) }),
  z.strictObject({
    type: z.literal('subscribe'),
    id: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[\w.:-]+$/, 'letters, digits, _ . : - only')
      .optional(),
    filters: liveFiltersSchema.default({}),
  }),
  z.strictObject({ type: z.literal('unsubscribe'), id: z.string().min(1).max(100) }),
  z.strictObject({ type: z.literal('ping') }),
]);
export type LiveClientMessage = z.infer<typeof liveClientMessageSchema>;

/** An event as it travels between instances (bus payload) and to clients. */
export const liveEventSchema = z.object({
  type: z.enum(LIVE_EVENT_TYPES),
  at: z.string().min(1),
  agentId: z.string().optional(),
  taskId: z.string().optional(),
  workflowId: z.string().optional(),
  capability: z.string().optional(),
  data: z.record(z.string(), z.unknown()).optional(),
  source: z.string().optional(),
}) satisfies z.ZodType<SwitchyardEvent>;

/** Close codes the gateway uses (documented in docs/LIVE-FEED.md). */
export const LIVE_CLOSE = {
  /** Missing or invalid token (HTTP 401 equivalent). */
  unauthenticated: 4401,
  /** The token's role may not read the feed. */
  forbidden: 4403,
  /** The client could not keep up: its buffer stayed full past the grace period. */
  slowConsumer: 4008,
  /** The instance already has LIVE_MAX_CLIENTS connections. */
  tryAgainLater: 1013,
  /** Server shutting down. */
  goingAway: 1001,
} as const;

/** Messages the server sends. */
export type LiveServerMessage =
  | { type: 'welcome'; connectionId: string; role: string; name: string; instanceId: string }
  | { type: 'auth_required'; timeoutMs: number }
  | { type: 'subscribed'; id: string; filters: LiveFilters }
  | { type: 'unsubscribed'; id: string }
  | { type: 'pong'; at: string }
  | { type: 'event'; seq: number; subscriptions: string[]; event: SwitchyardEvent }
  | { type: 'dropped'; count: number }
  | { type: 'error'; code: string; message: string; details?: unknown };
