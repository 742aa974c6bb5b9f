import { hostname } from 'node:os';
import {
  Inject,
  Injectable,
  Logger,
  Optional,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { AgentDefinition } from '../agents/agent-definition.type';
import { loadAgentDirectory } from '../agents/agent-loader';
import type { AgentMessage } from '../bus/agent-message.schema';
import { MessageBus, type Subscription } from '../bus/message-bus';
import { ConfigService } from '../config/config.service';
import { AgentStatus } from '../discovery/agent-record.type';
import { DiscoveryService } from '../discovery/discovery.service';
import { MetricsService } from '../observability/metrics.service';
import { fieldLogger, taskLine } from '../observability/task-log';
import { withSpan } from '../observability/tracing';
import { workerControlId } from '../contracts/worker-control-id.util';
import { taskMessagePayloadSchema, type TaskResultPayload } from '../contracts/task-message.schema';
import { ParkedTasksStore } from '../mcp/parked-tasks.store';
import { AgentRuntime } from './agent-runtime';
import { delegateThroughControlPlane } from './control-plane-delegation';
import { executorOptionsFromConfig } from './executors/executor-options.from-config';
import { TASK_PROGRESS_DESTINATION } from '../bus/task-progress.schema';
import { AgentAvailability } from './agent-availability';
import { TaskProgressPublisher } from './task-progress.publisher';
import { StaleDeliveryCheck } from './stale-delivery.check';
import { WORKER_AGENTS_DIR } from './worker-agents.token';
import { workerMetrics } from './worker-metrics';
import { RedisService } from '../redis/redis.service';

/** How long a worker keeps retrying a task's reply while the broker is unreachable. */
const REPLY_RETRY_MS = 60_000;

/**
 * The agent worker process (`switchyard worker --agents DIR`): loads the agent files, registers
 * each agent as `<name>@<workerId>`, heartbeats with the live load, consumes each agent's task
 * queue, runs tasks through the {@link AgentRuntime}, replies, and drains on shutdown.
 */
@Injectable()
export class WorkerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(WorkerService.name);
  readonly workerId: string;
  private runtime?: AgentRuntime;
  private readonly agentIds = new Map<string, string>(); // agent id -> agent name
  private readonly subscriptions: Subscription[] = [];
  private heartbeatTimer?: NodeJS.Timeout;
  /** Agents being registered again (their record expired): one registration at a time. */
  private readonly registering = new Set<string>();
  private stopping = false;
  /** Agents that hit a usage/rate limit: unavailable (OFFLINE in discovery) until the time given. */
  private readonly availability = new AgentAvailability();
  private readonly progress = new TaskProgressPublisher({
    send: (m) =>
      this.bus.sendTask({
        fromAgent: m.agentId,
        toAgent: TASK_PROGRESS_DESTINATION,
        messageType: 'control',
        taskId: m.taskId,
        attempt: m.attempt,
        payload: m,
      }),
    // Once a minute at most: with no control plane consuming progress every batch would fail.
    onError: (e) => {
      const now = Date.now();
      if (now - this.progressWarnedAt < 60_000) return;
      this.progressWarnedAt = now;
      this.logger.warn(
        `task progress not sent (${this.progress.stats.failed} step(s) lost so far): ${(e as Error).message}`,
      );
    },
  });
  private progressWarnedAt = 0;
  private readonly staleCheck: StaleDeliveryCheck;

  constructor(
    private readonly config: ConfigService,
    private readonly bus: MessageBus,
    private readonly discovery: DiscoveryService,
    private readonly parked: ParkedTasksStore,
    private readonly metrics: MetricsService,
    @Inject(WORKER_AGENTS_DIR) private readonly agentsDir: string,
    redis: RedisService,
    @Optional() private readonly httpHost?: HttpAdapterHost,
  ) {
    this.staleCheck = new StaleDeliveryCheck(redis, config);
    const host = hostname()
      .replace(/[^A-Za-z0-9-]/g, '-')
      .slice(0, 32);
    this.workerId = config.worker.workerId ?? `${host}-${process.pid}`;
  }

  /**
   * Control-plane URL the agents of this worker use: SWITCHYARD_URL, else this process's own
   * HTTP server when it has one (agents hosted by `serve --agents`), else 127.0.0.1:$PORT.
   */
  get switchyardUrl(): string {
    const configured = this.config.worker.switchyardUrl;
    if (configured) return configured.replace(/\/+$/, '');
    const server = this.httpHost?.httpAdapter?.getHttpServer() as
      { address?: () => unknown } | undefined;
    const address = server?.address?.();
    const port =
      typeof address === 'object' && address !== null && 'port' in address
        ? (address as { port: number }).port
        : this.config.http.port;
    return `http://127.0.0.1:${port}`;
  }

  /** Agent ids this worker registered (`<name>@<workerId>`). */
  get registeredIds(): string[] {
    return [...this.agentIds.keys()];
  }

  async onApplicationBootstrap(): Promise<void> {
    const { loaded, skipped } = await loadAgentDirectory(this.agentsDir);
    for (const s of skipped) this.logger.warn(`skipped ${s.file}: ${s.reason}`);
    if (loaded.length === 0) {
      throw new Error(
        `no agent definitions loaded from ${this.agentsDir} (${skipped.length} skipped)`,
      );
    }
    this.runtime = new AgentRuntime(loaded, {
      executorOptions: executorOptionsFromConfig(this.config.worker, {
        env: process.env,
        cwd: process.cwd(),
      }),
      logger: fieldLogger(this.logger),
      switchyardUrl: () => this.switchyardUrl,
      delegate: (parent, capability, payload, options) =>
        delegateThroughControlPlane(
          {
            url: this.switchyardUrl,
            clientName: `switchyard-worker:${this.workerId}`,
            defaultTimeoutMs: this.config.worker.defaultTimeoutMs,
          },
          parent,
          capability,
          payload,
          options,
        ),
      listener: {
        finished: (info, result) => {
          this.metrics.tasksTotal.inc({
            agent: this.idOf(info.agent),
            status: result.ok ? 'completed' : 'failed',
          });
          if (!result.ok)
            this.metrics.attemptFailuresTotal.inc({
              agent: this.idOf(info.agent),
              error_type: result.error.type,
            });
          if (!result.ok && result.error.type === 'rate_limited')
            this.markLimited(info.agent, result.error.message, result.error.details);
        },
        progress: (info, step) =>
          this.progress.add(this.idOf(info.agent), info.taskId, info.attempt, step),
      },
    });
    for (const agent of loaded) await this.host(agent);
    // Cancels arrive on this worker's own control queue, so a busy agent's prefetch never holds them up.
    this.subscriptions.push(
      await this.bus.subscribe(workerControlId(this.workerId), (m) => this.onControl(m), {
        prefetch: 16,
      }),
    );
    this.heartbeatTimer = setInterval(
      () => void this.heartbeatAll(),
      this.config.worker.heartbeatIntervalMs,
    );
    this.logger.log(
      `worker ${this.workerId} hosts ${loaded.length} agent(s): ${[...this.agentIds.keys()].join(', ')}`,
    );
  }

  private idOf(name: string): string {
    return `${name}@${this.workerId}`;
  }

  /** Registers the agent and consumes its task queue (once per agent, at boot). */
  private async host(agent: AgentDefinition): Promise<void> {
    const id = this.idOf(agent.name);
    this.agentIds.set(id, agent.name);
    await this.register(agent);
    // Prefetch = maxConcurrency plus a headroom for tasks of a tree the agent already runs (they
    // borrow their waiting ancestor's slot, see AgentRuntime); the registry's load (which
    // the orchestrator reserves against) keeps everything else waiting in RabbitMQ, not here.
    const sub = await this.bus.subscribe(
      id,
      (m, info) => this.onTask(agent.name, m, info.redelivered),
      {
        prefetch: agent.maxConcurrency + this.config.worker.delegationHeadroom,
      },
    );
    this.subscriptions.push(sub);
  }

  /**
   * Writes the agent's registry record: at boot, and again when its heartbeat finds it expired.
   * Only the record: the subscription made at boot lives on (the bus re-attaches it after a
   * reconnect), and a second one would add a consumer with the agent's full prefetch each time.
   */
  private async register(agent: AgentDefinition): Promise<void> {
    const id = this.idOf(agent.name);
    await this.discovery.register({
      id,
      name: agent.name,
      description: agent.description.slice(0, 4000),
      capabilities: agent.capabilities,
      maxLoad: agent.maxConcurrency,
      executor: agent.executor,
      model: agent.model,
      workerId: this.workerId,
      ttlSeconds: this.config.worker.agentTtlSeconds,
      status: AgentStatus.Available,
      load: 0,
      metadata: { source: 'worker', file: agent.file },
    });
  }

  private async onTask(name: string, message: AgentMessage, redelivered: boolean): Promise<void> {
    if (message.messageType === 'cancel') {
      if (message.taskId) this.runtime?.cancel(message.taskId);
      return;
    }
    if (message.messageType !== 'task' || !message.taskId) {
      this.logger.warn(`agent ${name}: ignoring a ${message.messageType} message without a task`);
      return;
    }
    const ref = { taskId: message.taskId, agentId: this.idOf(name), attempt: message.attempt };
    const runtime = this.runtime!;
    const parsed = taskMessagePayloadSchema.safeParse(message.payload);
    let result: TaskResultPayload;
    if (!parsed.success) {
      result = {
        ok: false,
        error: {
          type: 'validation',
          message: `malformed task message: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
          retryable: false,
        },
      };
    } else {
      const p = parsed.data;
      const line = { ...ref, workflowId: p.workflowId };
      if (redelivered)
        this.logger.log(
          taskLine(`task ${message.taskId} attempt ${message.attempt} redelivered`, line),
        );
      if (await this.isStale(name, message, redelivered)) return; // acked, not run, not answered
      result = await withSpan(
        'task_execution',
        { 'agent.name': name, 'task.id': message.taskId, attempt: message.attempt },
        async () => {
          const started = Date.now();
          this.logger.debug(
            taskLine(`task ${message.taskId} received by ${this.idOf(name)}`, line, {
              capability: p.capability,
            }),
          );
          const r = await runtime.run(name, {
            taskId: message.taskId!,
            attempt: message.attempt,
            deliveryId: message.id,
            capability: p.capability,
            payload: p.payload,
            inputs: p.inputs,
            timeoutMs: p.timeoutMs,
            workflowId: p.workflowId,
            rootTaskId: p.rootTaskId ?? message.taskId!,
            ...(p.credential ? { credential: p.credential } : {}),
            ...(p.resumeSessionId !== undefined && { resumeSessionId: p.resumeSessionId }),
            ...(p.budgetLeftUsd !== undefined && { budgetLeftUsd: p.budgetLeftUsd }),
          });
          const ms = Date.now() - started;
          if (r.ok)
            this.logger.debug(
              taskLine(`task ${message.taskId} finished in ${ms} ms`, line, { ms }),
            );
          else
            this.logger.warn(
              taskLine(
                `task ${message.taskId} failed on ${this.idOf(name)}: ${r.error.type}: ${r.error.message}`,
                line,
                { ms, error_type: r.error.type },
              ),
            );
          return r;
        },
      );
    }
    // A drained (handed-back) task is not answered: the message is nacked and redelivered, or
    // the control plane notices the agent is gone and retries it elsewhere.
    if (!result.ok && result.error.type === 'drained')
      throw new Error(`task ${message.taskId} handed back`);
    await this.replyUntilSent(message, {
      fromAgent: this.idOf(name),
      messageType: 'response',
      taskId: message.taskId,
      payload: result,
      attempt: message.attempt,
      priority: message.priority,
    });
  }

  /**
   * A redelivered (or long-queued) task message whose attempt is no longer the task's current
   * one: the control plane has moved on (failed it as lost and started the next attempt, or the
   * task ended), so running it would execute the agent twice for nothing. Logged and counted;
   * the caller acks it without an answer. When the record cannot be read it runs as before.
   */
  private async isStale(
    name: string,
    message: AgentMessage,
    redelivered: boolean,
  ): Promise<boolean> {
    if (!StaleDeliveryCheck.needed(redelivered, message.timestamp)) return false;
    const verdict = await this.staleCheck.check(message.taskId!, message.attempt);
    if (verdict.current === undefined) {
      this.logger.warn(
        taskLine(
          `task ${message.taskId} attempt ${message.attempt}: could not check that the attempt is current (${verdict.reason}); running it`,
          { taskId: message.taskId, agentId: this.idOf(name), attempt: message.attempt },
        ),
      );
      return false;
    }
    if (verdict.current) return false;
    workerMetrics.stale.inc({ agent: name });
    this.logger.warn(
      taskLine(
        `dropped a stale ${redelivered ? 'redelivered ' : ''}message for task ${message.taskId} attempt ${message.attempt} (agent ${this.idOf(name)}): ${verdict.reason}`,
        { taskId: message.taskId, agentId: this.idOf(name), attempt: message.attempt },
      ),
    );
    return true;
  }

  /**
   * Sends a task's reply, retrying while the broker is away (a RabbitMQ restart takes seconds):
   * giving up at once would dead-letter the message and the control plane would run the attempt
   * again elsewhere although it finished here. Bounded: after `REPLY_RETRY_MS` (or on shutdown)
   * the error goes up as before. A reply sent twice (the broker also redelivers the unacked
   * message, answered from the runtime's record) is deduplicated by the control plane.
   */
  private async replyUntilSent(
    message: AgentMessage,
    response: Parameters<MessageBus['sendResponse']>[1],
  ): Promise<void> {
    const deadline = Date.now() + REPLY_RETRY_MS;
    for (let delay = 250; ; delay = Math.min(delay * 2, 2000)) {
      try {
        await this.bus.sendResponse(message, response);
        return;
      } catch (e) {
        if (this.stopping || Date.now() + delay > deadline) throw e;
        this.logger.warn(
          taskLine(
            `reply for task ${message.taskId} attempt ${message.attempt} not sent (${(e as Error).message}); retrying in ${delay} ms`,
            { taskId: message.taskId, attempt: message.attempt },
          ),
        );
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** A usage/rate limit: the agent takes no task until `details.retryAt` (discovery sees it OFFLINE). */
  private markLimited(name: string, message: string, details: unknown): void {
    const limited = this.availability.markLimited(name, message, details);
    if (!limited) return;
    this.logger.warn(
      `agent ${this.idOf(name)} is unavailable until ${new Date(limited.until).toISOString()}: ${message}`,
    );
    void this.heartbeatAll();
  }

  private async onControl(message: AgentMessage): Promise<void> {
    if (message.messageType !== 'cancel' || !message.taskId) return;
    const n = this.runtime?.cancel(message.taskId) ?? 0;
    if (n > 0) {
      this.logger.log(
        taskLine(`cancelled task ${message.taskId} (${n} execution(s) aborted)`, {
          taskId: message.taskId,
        }),
      );
    }
  }

  /**
   * Live load per agent for the heartbeat: running tasks, minus those parked in a delegation
   * wait on the control plane (their slot is lent to their children, see docs/MCP.md).
   */
  private async liveLoads(): Promise<Record<string, number>> {
    const loads = this.runtime!.loads();
    const counted = this.runtime!.executions().filter((e) => e.state === 'running' && !e.borrowed);
    if (counted.length === 0) return loads;
    const parked = await this.parked
      .parked(counted.map((e) => e.taskId))
      .catch(() => new Set<string>());
    for (const e of counted) {
      if (parked.has(e.taskId)) loads[e.agent] = Math.max(0, (loads[e.agent] ?? 0) - 1);
    }
    return loads;
  }

  /**
   * Rounds may overlap (a slow Redis must not space out the heartbeats of a short TTL), but an
   * expired agent is registered again by one round at a time.
   */
  private async heartbeatAll(): Promise<void> {
    if (this.stopping || !this.runtime) return;
    const loads = await this.liveLoads();
    await Promise.all(
      [...this.agentIds.entries()].map(async ([id, name]) => {
        const agent = this.runtime!.agent(name)!;
        const load = loads[name] ?? 0;
        if (this.availability.check(name).ended) {
          this.logger.log(`agent ${id} is available again (its usage/rate limit has reset)`);
        }
        try {
          await this.discovery.heartbeat(id, {
            load,
            status: this.availability.status(name, load, agent.maxConcurrency),
          });
        } catch (e) {
          // Expired (e.g. the worker was paused): register again rather than stay invisible.
          if ((e as { code?: string }).code === 'NOT_FOUND') {
            if (this.registering.has(id)) return;
            this.registering.add(id);
            await this.register(agent)
              .then(() =>
                this.logger.warn(
                  `agent ${id} had expired (no heartbeat reached Redis within its ${this.config.worker.agentTtlSeconds} s TTL); registered it again`,
                ),
              )
              .catch((err: Error) =>
                this.logger.warn(`registering ${id} again failed: ${err.message}`),
              )
              .finally(() => this.registering.delete(id));
          } else this.logger.warn(`heartbeat of ${id} failed: ${(e as Error).message}`);
        }
      }),
    );
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.heartbeatTimer);
    // Stop taking new work, let in-flight tasks finish (or hand them back), then leave the registry.
    for (const id of this.agentIds.keys()) {
      await this.discovery.heartbeat(id, { status: AgentStatus.Draining }).catch(() => undefined);
    }
    const report = await this.runtime?.drain(this.config.worker.drainTimeoutMs);
    await this.progress.flush().catch(() => undefined);
    if (report && report.handedBack.length > 0) {
      this.logger.warn(`handed back ${report.handedBack.length} task(s) on shutdown`);
    }
    await Promise.all(this.subscriptions.map((s) => s.cancel().catch(() => undefined)));
    for (const id of this.agentIds.keys())
      await this.discovery.deregister(id).catch(() => undefined);
  }
}
