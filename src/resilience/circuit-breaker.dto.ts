import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import { BREAKER_STATES } from './breaker-state.type';

/**
 * Agent ids as the registry accepts them: letters, digits and `._:@-` (worker-hosted agents are
 * `<name>@<workerId>`), up to 200 characters.
 */
export const agentIdParamSchema = z.strictObject({
  agentId: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]*$/, 'letters, digits and . _ : @ - only'),
});
export class AgentIdParamDto extends createZodDto(agentIdParamSchema) {}

const iso = z.iso.datetime().nullable();

export const circuitBreakerSchema = z.object({
  agentId: z.string(),
  state: z.enum(BREAKER_STATES),
  failures: z
    .number()
    .int()
    .describe(
      'Closed: failures counted towards the threshold now; otherwise the failures that opened it',
    ),
  threshold: z.number().int().describe('Failures that open the breaker'),
  successes: z.number().int(),
  totalFailures: z.number().int(),
  rejections: z.number().int().describe('Calls refused while open / while the trial ran'),
  openedAt: iso,
  nextAttemptAt: iso.describe('When an open breaker lets one trial call through'),
  lastChangeAt: iso,
  lastChangeSource: z.string().nullable().describe('Control-plane instance of the last change'),
});
export class CircuitBreakerDto extends createZodDto(circuitBreakerSchema) {}

export const circuitBreakerDetailSchema = circuitBreakerSchema.extend({
  tracked: z
    .boolean()
    .describe('false: this instance never called the agent; it reports a fresh closed breaker'),
});
export class CircuitBreakerDetailDto extends createZodDto(circuitBreakerDetailSchema) {}

export const circuitBreakerListSchema = z.object({
  instanceId: z.string().describe('The control-plane instance that answered'),
  items: z.array(circuitBreakerSchema),
});
export class CircuitBreakerListDto extends createZodDto(circuitBreakerListSchema) {}
