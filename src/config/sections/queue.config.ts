import { z } from 'zod';
import { defineSection, field, int, num } from '../config-field.util';

export const queueSection = defineSection('queue', 'Task queue', {
  name: field(
    'QUEUE_NAME',
    z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - only (no colon)')
      .default('tasks'),
    'Name of the BullMQ queue carrying READY tasks (and part of the task keys in Redis)',
  ),
  concurrency: field(
    'QUEUE_CONCURRENCY',
    int(1, 10_000).default(50),
    'Default number of tasks one control-plane instance runs at once (startProcessing)',
  ),
  retryMaxRetries: field(
    'QUEUE_RETRY_MAX_RETRIES',
    int(0, 100).default(3),
    'Default retries after the first attempt for a retryable failure',
  ),
  retryBaseDelayMs: field(
    'QUEUE_RETRY_BASE_DELAY_MS',
    int(0).default(2000),
    'Default first retry delay; doubles on each retry',
  ),
  retryMaxDelayMs: field(
    'QUEUE_RETRY_MAX_DELAY_MS',
    int(0).default(60_000),
    'Default cap on a retry delay',
  ),
  retryJitterMin: field(
    'QUEUE_RETRY_JITTER_MIN',
    num(0, 10).default(0.8),
    'Lower bound of the random factor applied to each retry delay',
  ),
  retryJitterMax: field(
    'QUEUE_RETRY_JITTER_MAX',
    num(0, 10).default(1.2),
    'Upper bound of the random factor applied to each retry delay',
  ),
  defaultTimeoutMs: field(
    'QUEUE_DEFAULT_TIMEOUT_MS',
    int(1).default(300_000),
    'Per-attempt execution timeout of a task that names none',
  ),
  maxPayloadBytes: field(
    'QUEUE_MAX_PAYLOAD_BYTES',
    int(1).default(262_144),
    'Largest task payload (JSON bytes) accepted; larger ones get 413',
  ),
  maxWorkflowTasks: field(
    'QUEUE_MAX_WORKFLOW_TASKS',
    int(1).default(10_000),
    'Most tasks one POST /v1/workflows may carry',
  ),
  retentionSeconds: field(
    'TASK_RETENTION_SECONDS',
    int(0).default(604_800),
    'Finished tasks (and ended workflows) are archived to the state store and removed from Redis this long after they ended (0 = keep forever); GET /v1/tasks/{id} still finds them',
  ),
  retentionMaxTasks: field(
    'TASK_RETENTION_MAX_TASKS',
    int(0).default(1_000_000),
    'Most finished tasks kept in Redis whatever their age: the oldest beyond this are archived and removed first (0 = no cap)',
  ),
  retentionSweepMs: field(
    'TASK_RETENTION_SWEEP_MS',
    int(0).default(30_000),
    'How often a control plane archives and removes expired finished tasks (0 = never)',
  ),
  defaultWaitTimeoutSeconds: field(
    'QUEUE_DEFAULT_WAIT_TIMEOUT_SECONDS',
    int(0).default(0),
    'A task that names no waitTimeoutSeconds fails with no_agent after waiting this long for a live agent with its capability (0 = wait forever)',
  ),
  maxInfraLosses: field(
    'QUEUE_MAX_INFRA_LOSSES',
    int(1, 1000).default(10),
    'Attempts a task may lose to infrastructure (its worker died or drained, the bus returned it) before it fails: these do not use its retries, this cap stops a task that kills every worker it lands on',
  ),
  delegationMaxDepth: field(
    'DELEGATION_MAX_DEPTH',
    int(1, 100).default(5),
    'Deepest delegation tree: a child deeper than this is refused (DELEGATION_LIMIT)',
  ),
  delegationMaxChildren: field(
    'DELEGATION_MAX_CHILDREN',
    int(1, 10_000).default(50),
    'Most children one task may delegate (DELEGATION_LIMIT beyond)',
  ),
  delegationMaxRepeats: field(
    'DELEGATION_MAX_REPEATS',
    int(1, 100).default(2),
    'A chain that already holds the delegating agent for the same capability more than this many times is a cycle (DELEGATION_LIMIT)',
  ),
  deadlockCheckIntervalMs: field(
    'DEADLOCK_CHECK_INTERVAL_MS',
    int(0).default(10_000),
    'How often cycles among BLOCKED tasks are detected and resolved (0 = only on demand)',
  ),
  reconcileIntervalMs: field(
    'QUEUE_RECONCILE_INTERVAL_MS',
    int(0).default(5000),
    'How often READY tasks without a queue job and RUNNING tasks past their deadline are repaired (0 = off)',
  ),
  reconcileGraceMs: field(
    'QUEUE_RECONCILE_GRACE_MS',
    int(0).default(5000),
    'A READY task is re-pushed to BullMQ only after waiting this long for its job; RUNNING tasks get this long past their timeout',
  ),
  lockDurationMs: field(
    'QUEUE_LOCK_DURATION_MS',
    int(1000).default(30_000),
    'BullMQ job lock: a running task whose instance stops renewing it for this long is considered stalled',
  ),
  stalledIntervalMs: field(
    'QUEUE_STALLED_INTERVAL_MS',
    int(1000).default(30_000),
    'BullMQ stalled-job check interval: a job whose instance died is re-run after about this long',
  ),
});
