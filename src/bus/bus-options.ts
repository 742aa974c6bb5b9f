import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { AppConfigValues } from '../config/load-config';
import type { MetricsService } from '../observability/metrics.service';

/** Everything a transport needs; built from `config.bus` by {@link busOptionsFromConfig}. */
export type AmqpQueueType = 'classic' | 'quorum';

export interface BusOptions {
  /** The node to connect to when `amqpUrls` is unset (AMQP_URL). */
  amqpUrl: string;
  /** Cluster nodes, tried in order (AMQP_URLS); wins over `amqpUrl` when set. */
  amqpUrls?: string[];
  /** Type of the queues that must survive a node (AMQP_QUEUE_TYPE; see docs/HIGH-AVAILABILITY.md). */
  queueType: AmqpQueueType;
  /** Prefix of every exchange/queue name. */
  namespace: string;
  /** This process on the bus: its reply queue is `agent.{instanceId}.responses`. */
  instanceId: string;
  prefetch: number;
  maxMessageBytes: number;
  publishTimeoutMs: number;
  requestTimeoutMs: number;
  agentQueueExpiresMs: number;
  taskTtlMs: number;
  replyQueueExpiresMs: number;
  maxPendingPublishes: number;
  shutdownTimeoutMs: number;
  /** Optional: counts `message_bus_messages_total`. */
  metrics?: Pick<MetricsService, 'busMessagesTotal' | 'duplicateRepliesTotal'>;
}

/** A name for this process when BUS_INSTANCE_ID is unset: host, pid and a random suffix. */
export function defaultInstanceId(): string {
  const host = hostname()
    .replace(/[^A-Za-z0-9-]/g, '-')
    .slice(0, 40);
  return `cp-${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

export function busOptionsFromConfig(
  bus: AppConfigValues['bus'],
  metrics?: BusOptions['metrics'],
): BusOptions {
  return {
    amqpUrl: bus.amqpUrl,
    ...(bus.amqpUrls ? { amqpUrls: bus.amqpUrls } : {}),
    queueType: bus.queueType,
    namespace: bus.namespace,
    instanceId: bus.instanceId ?? defaultInstanceId(),
    prefetch: bus.prefetch,
    maxMessageBytes: bus.maxMessageBytes,
    publishTimeoutMs: bus.publishTimeoutMs,
    requestTimeoutMs: bus.requestTimeoutMs,
    agentQueueExpiresMs: bus.agentQueueExpiresMs,
    taskTtlMs: bus.taskTtlMs,
    replyQueueExpiresMs: bus.replyQueueExpiresMs,
    maxPendingPublishes: bus.maxPendingPublishes,
    shutdownTimeoutMs: bus.shutdownTimeoutMs,
    metrics,
  };
}

/** Defaults for tests and benchmarks (the same values as the config defaults). */
export function busOptions(overrides: Partial<BusOptions> = {}): BusOptions {
  return {
    amqpUrl: 'amqp://guest:guest@127.0.0.1:5672',
    queueType: 'classic',
    namespace: '',
    instanceId: defaultInstanceId(),
    prefetch: 50,
    maxMessageBytes: 1_048_576,
    publishTimeoutMs: 5000,
    requestTimeoutMs: 30_000,
    agentQueueExpiresMs: 86_400_000,
    taskTtlMs: 43_200_000,
    replyQueueExpiresMs: 1_800_000,
    maxPendingPublishes: 10_000,
    shutdownTimeoutMs: 10_000,
    ...overrides,
  };
}
