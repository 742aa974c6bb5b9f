import { z } from 'zod';
import { paginationQuery } from '../common/http/pagination';
import { AgentStatus } from './agent-record.type';

/**
 * The shapes that enter the discovery module, used by the REST DTOs and by the service itself
 * (so the worker, the startup loader and the orchestrator are validated the same way).
 */

export const AGENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
export const CAPABILITY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$/;

export const agentIdSchema = z
  .string()
  .regex(
    AGENT_ID_PATTERN,
    'must be 1-128 characters of letters, digits and . _ : @ -, starting with a letter or digit',
  )
  .describe('Agent id');

export const capabilityNameSchema = z
  .string()
  .regex(
    CAPABILITY_PATTERN,
    'must be 1-128 characters of letters, digits and . _ : / @ -, starting with a letter or digit',
  )
  .describe('Capability name, e.g. `code-review` or `mcp:github`');

export const agentStatusSchema = z.enum(AgentStatus);
export const healthScoreSchema = z.number().min(0).max(1).describe('Health score, 0..1');
const loadSchema = z.number().int().min(0).max(1_000_000).describe('Tasks running now');
const maxLoadSchema = z.number().int().min(1).max(1_000_000).describe('Tasks it may run at once');

const metadataSchema = z
  .record(z.string().min(1).max(128), z.string().max(2000))
  .refine((m) => Object.keys(m).length <= 64, 'at most 64 metadata entries')
  .describe('Free-form string key/values');

export const registerAgentSchema = z.strictObject({
  id: agentIdSchema,
  name: z.string().min(1).max(200).optional().describe('Display name (default: the id)'),
  description: z.string().max(4000).optional(),
  capabilities: z.array(capabilityNameSchema).min(1).max(100),
  status: agentStatusSchema.optional().describe('Default AVAILABLE (kept on re-registration)'),
  load: loadSchema.optional().describe('Default 0 (kept on re-registration)'),
  maxLoad: maxLoadSchema.optional().describe('Default 1'),
  healthScore: healthScoreSchema.optional().describe('Default 1 (kept on re-registration)'),
  executor: z.string().min(1).max(64).optional(),
  model: z.string().min(1).max(200).optional(),
  workerId: z
    .string()
    .regex(
      AGENT_ID_PATTERN,
      'must be 1-128 characters of letters, digits and . _ : @ -, starting with a letter or digit',
    )
    .optional()
    .describe('Worker hosting the agent (it names a bus address: same rules as an agent id)'),
  metadata: metadataSchema.optional(),
  ttlSeconds: z
    .number()
    .int()
    .min(1)
    .max(86_400)
    .optional()
    .describe('Heartbeat TTL for this agent (default DISCOVERY_HEARTBEAT_TTL_SECONDS)'),
});
export type RegisterAgentInput = z.input<typeof registerAgentSchema>;

export const heartbeatSchema = z.strictObject({
  status: agentStatusSchema.optional(),
  load: loadSchema.optional(),
  maxLoad: maxLoadSchema.optional(),
  healthScore: healthScoreSchema.optional(),
});
export type HeartbeatInput = z.input<typeof heartbeatSchema>;

export const findAgentsQuerySchema = z.strictObject({
  capability: capabilityNameSchema,
  minHealthScore: healthScoreSchema.optional(),
  maxLoadRatio: z.number().min(0).optional(),
  status: z.array(agentStatusSchema).min(1).optional(),
  limit: z.number().int().min(1).max(1000).optional(),
  excludeStatic: z.boolean().optional(),
});

/** `status=AVAILABLE,BUSY` or `status=available&status=busy` (case-insensitive, like every enum filter). */
const statusListQuery = z.preprocess((v) => {
  const list: unknown = typeof v === 'string' ? v.split(',') : v;
  if (!Array.isArray(list)) return v;
  return list
    .map((s: unknown) => (typeof s === 'string' ? s.trim().toUpperCase() : s))
    .filter((s) => s !== '');
}, z.array(agentStatusSchema).min(1));

export const listAgentsQuerySchema = z
  .strictObject({
    capability: capabilityNameSchema.optional(),
    status: statusListQuery
      .optional()
      .describe('Statuses to include, comma-separated (default: all)'),
    minHealthScore: z.coerce.number().min(0).max(1).optional(),
    maxLoadRatio: z.coerce
      .number()
      .min(0)
      .optional()
      .describe('Keep agents with load/maxLoad <= this'),
    sort: z
      .enum(['id', 'load'])
      .default('id')
      .describe(
        '`id`: every match in id order, cursor-paginated. `load`: find-by-capability, least ' +
          'loaded first, one page (needs `capability`; only AVAILABLE/BUSY agents with ' +
          'healthScore >= DISCOVERY_MIN_HEALTH_SCORE unless `status`/`minHealthScore` say otherwise)',
      ),
    ...paginationQuery,
  })
  .superRefine((q, ctx) => {
    if (q.sort === 'load' && q.capability === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['capability'],
        message: 'is required when sort=load',
      });
    }
    if (q.sort === 'load' && q.cursor !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['cursor'],
        message: 'is not supported with sort=load (it returns one page, least loaded first)',
      });
    }
  });
export type ListAgentsQuery = z.output<typeof listAgentsQuerySchema>;

export const agentIdParamSchema = z.strictObject({ id: agentIdSchema });

export const agentRecordSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  capabilities: z.array(z.string()),
  status: agentStatusSchema,
  load: z.number(),
  maxLoad: z.number(),
  healthScore: z.number(),
  executor: z.string().optional(),
  model: z.string().optional(),
  workerId: z.string().optional(),
  registeredAt: z.string(),
  lastHeartbeatAt: z.string(),
  expiresAt: z.string(),
  metadata: z.record(z.string(), z.string()),
  ttlSeconds: z.number().optional(),
});

export const capabilitySummarySchema = z.object({
  name: z.string(),
  agents: z.number().int().describe('Live agents with this capability'),
  available: z.number().int().describe('Of those, how many are AVAILABLE'),
});
export type CapabilitySummary = z.output<typeof capabilitySummarySchema>;
