import { z } from 'zod';
import { bool, defineSection, field, int } from '../config-field.util';

/** How a write that conflicts with a newer version is resolved (per namespace). */
export const CONFLICT_STRATEGIES = ['reject', 'last-write-wins', 'merge-patch'] as const;
export type ConflictStrategy = (typeof CONFLICT_STRATEGIES)[number];

const NAMESPACE = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;

/** `project=merge-patch,config=reject` → `{ project: 'merge-patch', config: 'reject' }`. */
const namespaceStrategies = () =>
  z.string().transform((text, ctx): Record<string, ConflictStrategy> => {
    const out: Record<string, ConflictStrategy> = {};
    for (const part of text.split(',').map((s) => s.trim())) {
      if (part === '') continue;
      const [ns, strategy, ...rest] = part.split('=').map((s) => s.trim());
      if (
        !ns ||
        !NAMESPACE.test(ns) ||
        rest.length > 0 ||
        !CONFLICT_STRATEGIES.includes(strategy as ConflictStrategy)
      ) {
        ctx.addIssue({
          code: 'custom',
          message: `'${part}' is not <namespace>=<${CONFLICT_STRATEGIES.join('|')}>`,
        });
        return z.NEVER;
      }
      out[ns] = strategy as ConflictStrategy;
    }
    return out;
  });

export const stateSection = defineSection('state', 'State (documents, locks, S3)', {
  store: field(
    'STATE_STORE',
    z.enum(['auto', 's3', 'local']).default('auto'),
    'Durable store for documents: s3, local (a directory), or auto (s3 when S3_BUCKET is set)',
  ),
  localDir: field(
    'STATE_LOCAL_DIR',
    z.string().min(1).default('.switchyard/state'),
    'Directory of the local store (used when S3 is not configured)',
  ),
  s3Endpoint: field(
    'S3_ENDPOINT',
    z.string().url().optional(),
    'S3 endpoint URL for S3-compatible stores (MinIO, R2, ...); unset means AWS',
    { example: 'http://127.0.0.1:9000' },
  ),
  s3Bucket: field('S3_BUCKET', z.string().min(1).optional(), 'S3 bucket for state and archives', {
    example: 'switchyard-state',
  }),
  s3Prefix: field(
    'S3_PREFIX',
    z.string().default('switchyard/'),
    'Prefix of every object Switchyard writes in the bucket',
  ),
  s3Region: field('S3_REGION', z.string().min(1).default('us-east-1'), 'S3 region'),
  s3AccessKeyId: field(
    'S3_ACCESS_KEY_ID',
    z.string().min(1).optional(),
    'S3 access key id (unset: the AWS default credential chain)',
    { secret: true },
  ),
  s3SecretAccessKey: field(
    'S3_SECRET_ACCESS_KEY',
    z.string().min(1).optional(),
    'S3 secret access key',
    { secret: true },
  ),
  s3ForcePathStyle: field(
    'S3_FORCE_PATH_STYLE',
    bool().default(false),
    'Path-style bucket addressing (needed by most S3-compatible servers)',
  ),
  s3RequestTimeoutMs: field(
    'S3_REQUEST_TIMEOUT_MS',
    int(1).default(3000),
    'One S3 request that takes longer fails (and is retried)',
  ),
  s3RetryAttempts: field(
    'S3_RETRY_ATTEMPTS',
    int(1, 20).default(3),
    'Attempts per S3 operation before it counts as failed (the document stays pending)',
  ),
  s3RetryBaseMs: field(
    'S3_RETRY_BASE_MS',
    int(1).default(50),
    'First backoff between S3 attempts (doubles each attempt, jitter x[0.8,1.2])',
  ),
  syncIntervalMs: field(
    'STATE_SYNC_INTERVAL_MS',
    int(50).default(2000),
    'How often pending uploads (written while the store was down) are retried',
  ),
  syncOnStartup: field(
    'STATE_SYNC_ON_STARTUP',
    bool().default(true),
    'Reconcile Redis with the durable store at boot (load newer documents, upload newer ones)',
  ),
  lockTtlMs: field(
    'STATE_LOCK_TTL_MS',
    int(10).default(10_000),
    'Lock expiry; the holder’s watchdog extends it every TTL/3 while it works',
  ),
  lockMaxHoldMs: field(
    'STATE_LOCK_MAX_HOLD_MS',
    int(10).default(300_000),
    'A lock held longer than this is force-released (and logged)',
  ),
  lockWaitMs: field(
    'STATE_LOCK_WAIT_MS',
    int(0).default(5000),
    'How long a write waits for the document lock before answering 409',
  ),
  maxDocumentBytes: field(
    'STATE_MAX_DOCUMENT_BYTES',
    int(16).default(262_144),
    'Largest document value (JSON bytes); larger writes get 413',
  ),
  defaultStrategy: field(
    'STATE_DEFAULT_STRATEGY',
    z.enum(CONFLICT_STRATEGIES).default('reject'),
    'Conflict strategy for namespaces not listed in STATE_NAMESPACE_STRATEGIES',
  ),
  namespaceStrategies: field(
    'STATE_NAMESPACE_STRATEGIES',
    namespaceStrategies().default({}),
    'Conflict strategy per namespace: <namespace>=<reject|last-write-wins|merge-patch>,...',
    { example: 'project=merge-patch,config=reject' },
  ),
});
