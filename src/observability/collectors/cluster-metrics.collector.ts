import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { MessageBus } from '../../bus/message-bus';
import { DiscoveryService } from '../../discovery/discovery.service';
import { listAgentsQuerySchema } from '../../discovery/discovery.schemas';
import { loadRatio } from '../../discovery/agent-record.codec';
import { listTasksQuerySchema } from '../../queue/task.schemas';
import { TaskQueueService } from '../../queue/task-queue.service';
import type { TaskRecord } from '../../queue/task.types';
import { ReadinessRegistry } from '../health/readiness.registry';
import { MetricsService } from '../metrics.service';
import { ObservabilityRepository } from '../report/observability.repository';
import { summarizeReadyBacklog } from './ready-backlog.util';

/** How often the cluster-wide gauges are refreshed from Redis. */
export const CLUSTER_REFRESH_MS = 10_000;
/** How often the bus connection state is sampled (a property read, no I/O). */
export const BUS_POLL_MS = 500;
/** READY tasks looked at per refresh (oldest first) for `tasks_waiting` and the oldest wait. */
export const READY_SCAN_LIMIT = 500;
const PAGE = 500;

/**
 * Keeps the gauges an on-call engineer needs right when several control planes run. Instead of
 * each instance reporting what passed through it, every refresh reads the shared state through
 * the modules' public services: queue counts and the READY backlog (TaskQueueService), agents and
 * capabilities (DiscoveryService), and the instance's own dependencies (ReadinessRegistry, bus
 * state). Cluster-wide gauges therefore carry the same value on every instance (aggregate them
 * with `max`); per-instance ones are labelled by Prometheus' `instance`.
 */
@Injectable()
export class ClusterMetricsCollector implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(ClusterMetricsCollector.name);
  private refreshTimer?: NodeJS.Timeout;
  private busTimer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private lastBusState?: string;
  private agentsSeen = new Set<string>();

  constructor(
    private readonly metrics: MetricsService,
    private readonly queue: TaskQueueService,
    private readonly discovery: DiscoveryService,
    private readonly readiness: ReadinessRegistry,
    private readonly bus: MessageBus,
    private readonly repo: ObservabilityRepository,
  ) {}

  onApplicationBootstrap(): void {
    this.lastBusState = this.bus.state;
    this.busTimer = setInterval(() => this.sampleBus(), BUS_POLL_MS);
    this.busTimer.unref();
    this.refreshTimer = setInterval(() => void this.refresh(), CLUSTER_REFRESH_MS);
    this.refreshTimer.unref();
    void this.refresh();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.refreshTimer);
    clearInterval(this.busTimer);
    await this.running;
  }

  /** Counts a reconnect each time the bus leaves `connected` for `connecting`/`reconnecting`. */
  sampleBus(): void {
    const state = this.bus.state;
    if (this.lastBusState === 'connected' && (state === 'reconnecting' || state === 'connecting')) {
      this.metrics.busReconnectsTotal.inc();
    }
    this.lastBusState = state;
  }

  /** One refresh of every gauge; concurrent calls share the one in flight. */
  refresh(): Promise<void> {
    this.running ??= this.refreshAll().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async refreshAll(): Promise<void> {
    await Promise.all([
      this.guard('dependencies', () => this.refreshDependencies()),
      this.guard('bus_rtt', () => this.measureBusRtt()),
      // Agents after the queue: capabilities that tasks wait for are reported even with 0 agents.
      this.guard('queue', () => this.refreshQueue()).then(() =>
        this.guard('agents', () => this.refreshAgents()),
      ),
    ]);
  }

  private async guard(collector: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.metrics.collectionFailuresTotal.inc({ collector });
      this.logger.warn(`metrics collection '${collector}' failed: ${(e as Error).message}`);
    }
  }

  private async refreshDependencies(): Promise<void> {
    for (const { name, result, seconds } of await this.readiness.checkEach()) {
      this.metrics.dependencyUp.set({ dependency: name }, result.status === 'down' ? 0 : 1);
      this.metrics.dependencyCheckSeconds.set({ dependency: name }, seconds);
    }
  }

  /** One publish-confirm round trip to RabbitMQ (skipped while the bus is not connected). */
  private async measureBusRtt(): Promise<void> {
    if (this.bus.state !== 'connected') return;
    const seconds = await this.bus.ping();
    if (seconds !== undefined) this.metrics.busRttSeconds.observe(seconds);
  }

  private async refreshQueue(): Promise<void> {
    // counts() also refreshes task_queue_size for every state.
    const counts = await this.queue.counts();
    this.metrics.deadLetterSize.set(counts.deadLetter);
    const ready: TaskRecord[] = [];
    let cursor: string | undefined;
    while (counts.ready > 0 && ready.length < READY_SCAN_LIMIT) {
      const page = await this.queue.listTasks(
        listTasksQuerySchema.parse({ status: 'READY', limit: PAGE, cursor }),
      );
      ready.push(...page.items);
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    const backlog = summarizeReadyBacklog(ready, Date.now());
    this.waitingCapabilities = [...backlog.waiting.keys()];
    this.metrics.tasksWaiting.reset();
    for (const [capability, n] of backlog.waiting) this.metrics.tasksWaiting.set({ capability }, n);
    this.metrics.oldestReadyTaskAge.set(backlog.oldestAgeSeconds);
  }

  /** Capabilities READY tasks asked for at the last queue refresh (reported with 0 agents if none). */
  private waitingCapabilities: string[] = [];

  private async refreshAgents(): Promise<void> {
    const capabilities = await this.discovery.listCapabilities();
    const agents = new Map<string, number>();
    let cursor: string | undefined;
    for (;;) {
      const page = await this.discovery.list(listAgentsQuerySchema.parse({ limit: PAGE, cursor }));
      for (const a of page.items) agents.set(a.id, loadRatio(a));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    // Everything is read; the gauges change in one synchronous step, so no scrape sees a gap.
    this.metrics.capabilityAgents.reset();
    this.metrics.capabilityAgentsAvailable.reset();
    for (const name of this.waitingCapabilities) {
      this.metrics.capabilityAgents.set({ capability: name }, 0);
      this.metrics.capabilityAgentsAvailable.set({ capability: name }, 0);
    }
    for (const c of capabilities) {
      this.metrics.capabilityAgents.set({ capability: c.name }, c.agents);
      this.metrics.capabilityAgentsAvailable.set({ capability: c.name }, c.available);
    }
    for (const id of this.agentsSeen) {
      if (!agents.has(id)) this.metrics.agentUtilization.remove({ agent: id });
    }
    for (const [id, ratio] of agents) this.metrics.agentUtilization.set({ agent: id }, ratio);
    this.agentsSeen = new Set(agents.keys());
    // The report's utilization: one registry-wide average per minute (any instance may write it).
    if (agents.size > 0) {
      const ratios = [...agents.values()];
      await this.repo.recordUtilization(
        Date.now(),
        ratios.reduce((a, b) => a + b, 0) / ratios.length,
      );
    }
  }
}
