import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, type Registry, register as defaultRegistry } from 'prom-client';

function getOrCreate<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
const DURATION_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];

/**
 * Every Prometheus metric Switchyard exposes, named as in the seed (section 3.1). One place, so
 * names cannot drift; get-or-create, so several app instances in one process share them.
 */
@Injectable()
export class MetricsService {
  readonly registry: Registry = defaultRegistry;

  readonly tasksTotal = getOrCreate(
    this.registry,
    'tasks_total',
    () =>
      new Counter({
        name: 'tasks_total',
        help: 'Tasks reaching a status, by agent',
        labelNames: ['agent', 'status'],
      }),
  );
  readonly taskDuration = getOrCreate(
    this.registry,
    'task_duration_seconds',
    () =>
      new Histogram({
        name: 'task_duration_seconds',
        help: 'Time an agent spent executing a task',
        labelNames: ['agent'],
        buckets: DURATION_BUCKETS,
      }),
  );
  readonly agentUtilization = getOrCreate(
    this.registry,
    'agent_utilization',
    () =>
      new Gauge({
        name: 'agent_utilization',
        help: 'Current load / max load of an agent (0..1)',
        labelNames: ['agent'],
      }),
  );
  readonly circuitBreakerState = getOrCreate(
    this.registry,
    'circuit_breaker_state',
    () =>
      new Gauge({
        name: 'circuit_breaker_state',
        help: 'Circuit breaker state per agent: 0 closed, 1 half-open, 2 open',
        labelNames: ['agent'],
      }),
  );
  readonly busMessagesTotal = getOrCreate(
    this.registry,
    'message_bus_messages_total',
    () =>
      new Counter({
        name: 'message_bus_messages_total',
        help: 'Messages published or consumed on the bus',
        labelNames: ['message_type', 'direction'],
      }),
  );
  readonly taskQueueSize = getOrCreate(
    this.registry,
    'task_queue_size',
    () =>
      new Gauge({
        name: 'task_queue_size',
        help: 'Tasks per queue state',
        labelNames: ['queue_name'],
      }),
  );
  readonly retryAttemptsTotal = getOrCreate(
    this.registry,
    'retry_attempts_total',
    () =>
      new Counter({
        name: 'retry_attempts_total',
        help: 'Task retries scheduled, by agent and error type',
        labelNames: ['agent', 'error_type'],
      }),
  );
  readonly attemptFailuresTotal = getOrCreate(
    this.registry,
    'attempt_failures_total',
    () =>
      new Counter({
        name: 'attempt_failures_total',
        help: 'Task attempts that failed on a worker, by agent and error type (stalled, rate_limited, timeout…)',
        labelNames: ['agent', 'error_type'],
      }),
  );
  readonly dispatchLatency = getOrCreate(
    this.registry,
    'dispatch_latency_seconds',
    () =>
      new Histogram({
        name: 'dispatch_latency_seconds',
        help: 'Time from a task becoming READY to its executor starting',
        labelNames: ['capability'],
        buckets: LATENCY_BUCKETS,
      }),
  );
  readonly registeredAgents = getOrCreate(
    this.registry,
    'registered_agents',
    () =>
      new Gauge({
        name: 'registered_agents',
        help: 'Agents currently registered, by status',
        labelNames: ['status'],
      }),
  );
  readonly duplicateRepliesTotal = getOrCreate(
    this.registry,
    'duplicate_replies_total',
    () =>
      new Counter({
        name: 'duplicate_replies_total',
        help: 'Late or duplicate task replies recognised and ignored',
        labelNames: ['reason'],
      }),
  );
  readonly liveClients = getOrCreate(
    this.registry,
    'live_clients',
    () =>
      new Gauge({
        name: 'live_clients',
        help: 'WebSocket clients connected to the live feed (/v1/live) on this instance',
      }),
  );
  readonly liveEventsDropped = getOrCreate(
    this.registry,
    'live_events_dropped_total',
    () =>
      new Counter({
        name: 'live_events_dropped_total',
        help: 'Live feed events dropped because a client could not keep up',
      }),
  );
  readonly liveClientsClosed = getOrCreate(
    this.registry,
    'live_clients_closed_total',
    () =>
      new Counter({
        name: 'live_clients_closed_total',
        help: 'Live feed connections closed by the server, by reason',
        labelNames: ['reason'],
      }),
  );
  readonly httpRequestDuration = getOrCreate(
    this.registry,
    'http_request_duration_seconds',
    () =>
      new Histogram({
        name: 'http_request_duration_seconds',
        help: 'HTTP request latency',
        labelNames: ['method', 'route', 'status'],
        buckets: LATENCY_BUCKETS,
      }),
  );

  // ------------------------------------------------------------------ on-call metrics
  // Set by ClusterMetricsCollector (cluster-wide: every instance reports the same value, so
  // aggregate with max) and by the bus/readiness probes (per instance).

  readonly tasksWaiting = getOrCreate(
    this.registry,
    'tasks_waiting',
    () =>
      new Gauge({
        name: 'tasks_waiting',
        help: 'READY tasks (not in a retry wait) per capability, cluster-wide (counted among the oldest 500)',
        labelNames: ['capability'],
      }),
  );
  readonly capabilityAgents = getOrCreate(
    this.registry,
    'capability_agents',
    () =>
      new Gauge({
        name: 'capability_agents',
        help: 'Live agents advertising a capability, cluster-wide (0 for a capability only tasks ask for)',
        labelNames: ['capability'],
      }),
  );
  readonly capabilityAgentsAvailable = getOrCreate(
    this.registry,
    'capability_agents_available',
    () =>
      new Gauge({
        name: 'capability_agents_available',
        help: 'Of the live agents with a capability, those AVAILABLE, cluster-wide',
        labelNames: ['capability'],
      }),
  );
  readonly oldestReadyTaskAge = getOrCreate(
    this.registry,
    'oldest_ready_task_age_seconds',
    () =>
      new Gauge({
        name: 'oldest_ready_task_age_seconds',
        help: 'How long the longest-waiting READY task has waited for dispatch, cluster-wide (0 when none)',
      }),
  );
  readonly deadLetterSize = getOrCreate(
    this.registry,
    'dead_letter_size',
    () =>
      new Gauge({
        name: 'dead_letter_size',
        help: 'Tasks in the dead-letter list, cluster-wide',
      }),
  );
  readonly busReconnectsTotal = getOrCreate(
    this.registry,
    'bus_reconnects_total',
    () =>
      new Counter({
        name: 'bus_reconnects_total',
        help: 'Times this instance lost its bus connection and started reconnecting',
      }),
  );
  readonly busRttSeconds = getOrCreate(
    this.registry,
    'bus_rtt_seconds',
    () =>
      new Histogram({
        name: 'bus_rtt_seconds',
        help: 'RabbitMQ round trip seen from this instance: a publish and its confirm, every 10 s',
        buckets: LATENCY_BUCKETS,
      }),
  );
  readonly reconcilerRepairsTotal = getOrCreate(
    this.registry,
    'queue_reconciler_repairs_total',
    () =>
      new Counter({
        name: 'queue_reconciler_repairs_total',
        help: 'Repairs the queue maintenance reconciler made on this instance, by kind',
        labelNames: ['kind'],
      }),
  );
  readonly dependencyUp = getOrCreate(
    this.registry,
    'dependency_up',
    () =>
      new Gauge({
        name: 'dependency_up',
        help: 'Readiness of a dependency seen from this instance: 1 up or degraded, 0 down',
        labelNames: ['dependency'],
      }),
  );
  readonly dependencyCheckSeconds = getOrCreate(
    this.registry,
    'dependency_check_seconds',
    () =>
      new Gauge({
        name: 'dependency_check_seconds',
        help: 'Duration of the last readiness check of a dependency from this instance (redis: a PING round trip)',
        labelNames: ['dependency'],
      }),
  );
  readonly humanActionsTotal = getOrCreate(
    this.registry,
    'task_human_actions_total',
    () =>
      new Counter({
        name: 'task_human_actions_total',
        help: 'Actions a person took on tasks or agents (requeue from dead letter, cancel, breaker reset, ...)',
        labelNames: ['action'],
      }),
  );
  readonly collectionFailuresTotal = getOrCreate(
    this.registry,
    'metrics_collection_failures_total',
    () =>
      new Counter({
        name: 'metrics_collection_failures_total',
        help: 'Periodic metric collections that failed (e.g. Redis unreachable), by collector',
        labelNames: ['collector'],
      }),
  );
  readonly authFailures = getOrCreate(
    this.registry,
    'auth_failures_total',
    () =>
      new Counter({
        name: 'auth_failures_total',
        help: 'Requests with a missing or invalid token (rejected), and ones refused because their address failed too often (rate_limited)',
        labelNames: ['transport', 'outcome'],
      }),
  );
}
