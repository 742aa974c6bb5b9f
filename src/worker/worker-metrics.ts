import { Counter, Gauge, Histogram, type Registry, register as defaultRegistry } from 'prom-client';
import type { AgentDefinition } from '../agents/agent-definition.type';
import type { ExecutionResult } from './executors/executor.types';

function getOrCreate<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

const EXECUTOR_DURATION_BUCKETS = [
  0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600,
];

/** Executors that start a child process per execution (`command` argv, `claude` CLI). */
const SPAWNING_EXECUTORS: ReadonlySet<string> = new Set(['command', 'claude']);

type ExecutorKind = AgentDefinition['executor'];

/**
 * The worker process's metrics, on prom-client's default registry (the worker HTTP server on
 * WORKER_HTTP_PORT serves it at /metrics; an embedded worker's show on the control plane's
 * /metrics). All per instance: sum them over workers. Labels are bounded: agent names hosted by
 * the worker, executor kinds, error types of the catalogue — never task ids.
 */
export class WorkerMetrics {
  readonly registry: Registry = defaultRegistry;

  readonly executions = getOrCreate(
    this.registry,
    'worker_executions_total',
    () =>
      new Counter({
        name: 'worker_executions_total',
        help: 'Task executions finished by this worker, by agent, executor and result (ok or the error type)',
        labelNames: ['agent', 'executor', 'result'],
        registers: [this.registry],
      }),
  );
  readonly executorDuration = getOrCreate(
    this.registry,
    'worker_executor_duration_seconds',
    () =>
      new Histogram({
        name: 'worker_executor_duration_seconds',
        help: 'Time an executor took for one execution (from taking a slot to the result)',
        labelNames: ['agent', 'executor'],
        buckets: EXECUTOR_DURATION_BUCKETS,
        registers: [this.registry],
      }),
  );
  readonly running = getOrCreate(
    this.registry,
    'worker_executions_running',
    () =>
      new Gauge({
        name: 'worker_executions_running',
        help: 'Executions running now on this worker, by agent',
        labelNames: ['agent'],
        registers: [this.registry],
      }),
  );
  readonly joins = getOrCreate(
    this.registry,
    'worker_duplicate_deliveries_total',
    () =>
      new Counter({
        name: 'worker_duplicate_deliveries_total',
        help: 'Redelivered task attempts that joined the execution already running',
        labelNames: ['agent'],
        registers: [this.registry],
      }),
  );
  readonly stale = getOrCreate(
    this.registry,
    'worker_stale_deliveries_total',
    () =>
      new Counter({
        name: 'worker_stale_deliveries_total',
        help: 'Task messages dropped without running: no longer the current attempt of their task (a redelivery after the task moved on)',
        labelNames: ['agent'],
        registers: [this.registry],
      }),
  );
  readonly spawns = getOrCreate(
    this.registry,
    'worker_process_spawns_total',
    () =>
      new Counter({
        name: 'worker_process_spawns_total',
        help: 'Child processes started for executions (command and claude executors)',
        labelNames: ['executor'],
        registers: [this.registry],
      }),
  );
  /** For executors that watch their child's output: no output for too long. */
  readonly stalls = getOrCreate(
    this.registry,
    'worker_executor_stalls_total',
    () =>
      new Counter({
        name: 'worker_executor_stalls_total',
        help: 'Executions whose executor saw no progress for too long (stream executors)',
        labelNames: ['agent', 'executor'],
        registers: [this.registry],
      }),
  );
  /** For streaming executors (claude stream-json): events received, by event type. */
  readonly streamEvents = getOrCreate(
    this.registry,
    'worker_stream_events_total',
    () =>
      new Counter({
        name: 'worker_stream_events_total',
        help: 'Events read from a streaming executor (e.g. claude stream-json), by agent and event type',
        labelNames: ['agent', 'type'],
        registers: [this.registry],
      }),
  );

  /** An execution took its slot and is about to call the executor. */
  started(agent: string, executor: ExecutorKind, load: number): void {
    this.running.set({ agent }, load);
    if (SPAWNING_EXECUTORS.has(executor)) this.spawns.inc({ executor });
  }

  finished(
    agent: string,
    executor: ExecutorKind,
    load: number,
    result: ExecutionResult,
    seconds: number,
  ): void {
    this.running.set({ agent }, load);
    this.executions.inc({ agent, executor, result: result.ok ? 'ok' : result.error.type });
    this.executorDuration.observe({ agent, executor }, seconds);
  }
}

/** The process-wide instance (the default registry). */
export const workerMetrics = new WorkerMetrics();
