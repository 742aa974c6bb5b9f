import { z } from 'zod';

export const BREAKER_STATES = ['closed', 'open', 'half_open'] as const;
export type BreakerState = (typeof BREAKER_STATES)[number];

/** Value of the `circuit_breaker_state{agent}` gauge (seed 3.1). */
export const BREAKER_STATE_GAUGE: Record<BreakerState, number> = {
  closed: 0,
  half_open: 1,
  open: 2,
};

/** What the registry reports about one agent's breaker (REST, CLI, live feed). */
export interface BreakerSnapshot {
  agentId: string;
  state: BreakerState;
  /** Closed: failures counted towards the threshold now. Open/half-open: the failures that opened it. */
  failures: number;
  /** Failures needed to open. */
  threshold: number;
  /** Successful calls through this breaker since this instance created it. */
  successes: number;
  /** Every counted failure since this instance created it. */
  totalFailures: number;
  /** Calls refused because the breaker was open / its half-open trial was busy. */
  rejections: number;
  /** When it last opened (ISO-8601), while it is open or half-open. */
  openedAt: string | null;
  /** When an open breaker lets its trial through (ISO-8601); null unless open. */
  nextAttemptAt: string | null;
  /** The last transition: when, and which instance caused it. */
  lastChangeAt: string | null;
  lastChangeSource: string | null;
}

/**
 * One breaker transition as shared between control-plane instances: the payload of a bus
 * broadcast (`messageType: 'control'`) and the value stored at `breaker:{agentId}` in Redis.
 */
export const breakerTransitionSchema = z.strictObject({
  kind: z.literal('breaker'),
  agentId: z.string().min(1).max(200),
  state: z.enum(BREAKER_STATES),
  /** Epoch milliseconds of the transition. */
  at: z.number().int().nonnegative(),
  /** Instance id of the control plane that made the transition. */
  source: z.string().min(1).max(200),
  /** For `open`: epoch milliseconds at which it goes half-open. */
  openUntil: z.number().int().nonnegative().optional(),
  failures: z.number().int().nonnegative().default(0),
  /** `reset` when an operator reset it through the API. */
  reason: z.enum(['failures', 'trial_failed', 'trial_succeeded', 'timer', 'reset']).optional(),
});

export type BreakerTransition = z.infer<typeof breakerTransitionSchema>;
export type BreakerTransitionReason = NonNullable<BreakerTransition['reason']>;
