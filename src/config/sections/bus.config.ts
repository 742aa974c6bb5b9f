import { z } from 'zod';
import { defineSection, field, int, list } from '../config-field.util';

const amqpUrl = z
  .string()
  .url()
  .refine((u) => /^amqps?:\/\//.test(u), 'expected an amqp:// or amqps:// URL');

/** AMQP_URLS and AMQP_URL exclude each other: two sources of truth for the broker is a mistake. */
function checkBus(env: Record<string, string | undefined>): { env: string; message: string }[] {
  const set = (k: string) => (env[k] ?? '').trim() !== '';
  if (set('AMQP_URLS') && set('AMQP_URL')) {
    return [
      {
        env: 'AMQP_URLS',
        message:
          'AMQP_URLS and AMQP_URL are both set; set only one (AMQP_URLS is the comma-separated node list of a cluster, AMQP_URL a single node)',
      },
    ];
  }
  return [];
}

export const busSection = defineSection(
  'bus',
  'Message bus',
  {
    transport: field(
      'BUS_TRANSPORT',
      z.enum(['rabbitmq', 'memory']).default('rabbitmq'),
      'rabbitmq for real deployments; memory for single-process mode and unit tests',
    ),
    amqpUrl: field(
      'AMQP_URL',
      z.string().url().default('amqp://guest:guest@127.0.0.1:5672'),
      'RabbitMQ connection URL (one node; for a cluster use AMQP_URLS instead)',
      { secret: true, example: 'amqp://guest:guest@127.0.0.1:5672' },
    ),
    amqpUrls: field(
      'AMQP_URLS',
      list().pipe(z.array(amqpUrl).min(1, 'expected at least one URL').max(32)).optional(),
      'RabbitMQ cluster: comma-separated node URLs, tried in order; on connection loss the next node is used (excludes AMQP_URL)',
      {
        secret: true,
        example:
          'amqp://guest:guest@rabbit-1:5672,amqp://guest:guest@rabbit-2:5672,amqp://guest:guest@rabbit-3:5672',
      },
    ),
    queueType: field(
      'AMQP_QUEUE_TYPE',
      z.enum(['classic', 'quorum']).default('classic'),
      'classic (single node; priority queues) or quorum (replicated: survives the loss of a cluster node; FIFO, priority is kept by the dispatcher). See docs/HIGH-AVAILABILITY.md before switching an existing install',
    ),
    prefetch: field(
      'BUS_PREFETCH',
      int(1, 65535).default(50),
      'Unacknowledged messages per consumer',
    ),
    maxMessageBytes: field(
      'BUS_MAX_MESSAGE_BYTES',
      int(1024).default(1_048_576),
      'Largest message the bus accepts',
    ),
    publishTimeoutMs: field(
      'BUS_PUBLISH_TIMEOUT_MS',
      int(1).default(5000),
      'How long a publish waits for the broker (connection + confirm) before it fails with 503',
    ),
    requestTimeoutMs: field(
      'BUS_REQUEST_TIMEOUT_MS',
      int(1).default(30_000),
      'Default request/response timeout',
    ),
    namespace: field(
      'BUS_NAMESPACE',
      z
        .string()
        .max(100)
        .regex(/^[A-Za-z0-9._-]*$/, 'letters, digits, dot, underscore and dash only')
        .default(''),
      'Prefix of every exchange and queue name (lets several installs or test runs share one broker)',
    ),
    instanceId: field(
      'BUS_INSTANCE_ID',
      z
        .string()
        .min(1)
        .max(100)
        .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, underscore and dash only')
        .optional(),
      'Name of this control-plane instance on the bus (its reply queue); random per process when unset',
    ),
    agentQueueExpiresMs: field(
      'BUS_AGENT_QUEUE_EXPIRES_MS',
      int(60_000).default(86_400_000),
      'An agent task queue nobody consumed or published to for this long is deleted (x-expires)',
    ),
    taskTtlMs: field(
      'BUS_TASK_TTL_MS',
      int(1000).default(43_200_000),
      'A task waiting longer than this in an agent queue is dead-lettered to orchestrator.priority (must be < BUS_AGENT_QUEUE_EXPIRES_MS)',
    ),
    replyQueueExpiresMs: field(
      'BUS_REPLY_QUEUE_EXPIRES_MS',
      int(10_000).default(1_800_000),
      'A reply or broadcast queue without consumer for this long is deleted (x-expires)',
    ),
    maxPendingPublishes: field(
      'BUS_MAX_PENDING_PUBLISHES',
      int(1).default(10_000),
      'Publishes that may wait for the broker at once; more fail at once with 503 (bounded memory)',
    ),
    shutdownTimeoutMs: field(
      'BUS_SHUTDOWN_TIMEOUT_MS',
      int(0).default(10_000),
      'How long a graceful shutdown waits for in-flight handlers',
    ),
  },
  checkBus,
);
