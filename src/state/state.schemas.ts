import { z } from 'zod';
import { paginationQuery } from '../common/http/pagination';

export const stateDocumentSchema = z.object({
  key: z.string(),
  version: z.number().int().describe('Monotonic; also the ETag'),
  value: z.unknown(),
  updatedAt: z.string(),
  updatedBy: z.string(),
});

export const putStateBodySchema = z
  .strictObject({ value: z.unknown().describe('Any JSON value') })
  .refine((b) => b.value !== undefined, { message: 'value is required', path: ['value'] });

export const listStateQuerySchema = z.strictObject({
  prefix: z.string().max(256).default('').describe('Only keys starting with this, e.g. `project/`'),
  ...paginationQuery,
});

export const stateKeySummarySchema = z.object({
  key: z.string(),
  version: z.number().int(),
  updatedAt: z.string(),
});

export const stateBackupSchema = z.strictObject({
  format: z.literal('switchyard-state-backup'),
  formatVersion: z.literal(1),
  createdAt: z.string(),
  documents: z.array(
    z.strictObject({
      key: z.string(),
      version: z.number().int().min(1),
      value: z.unknown(),
      updatedAt: z.string(),
      updatedBy: z.string(),
    }),
  ),
});
export type StateBackup = z.infer<typeof stateBackupSchema>;

export const restoreReportSchema = z.object({
  restored: z.number().int(),
  unchanged: z.number().int(),
  keys: z.array(z.object({ key: z.string(), version: z.number().int() })),
});

export const syncReportSchema = z.object({
  loaded: z.number().int(),
  uploaded: z.number().int(),
  unchanged: z.number().int(),
  failed: z.number().int(),
  pending: z.number().int(),
});
