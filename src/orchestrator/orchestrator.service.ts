import {
  Injectable,
  Logger,
  Optional,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { AgentMessage } from '../bus/agent-message.schema';
import { MessageBus, type Subscription } from '../bus/message-bus';
import { ConfigService } from '../config/config.service';
import { type AgentRecord, AgentStatus } from '../discovery/agent-record.type';
import { DiscoveryService } from '../discovery/discovery.service';
import { EventsService } from '../events/events.service';
import { TaskCredentialService } from '../auth/task-credential.service';
import { MetricsService } from '../observability/metrics.service';
import { taskLine } from '../observability/task-log';
import { withSpan } from '../observability/tracing';
import { TaskQueueService } from '../queue/task-queue.service';
import type { TaskRunner } from '../queue/task-runner';
import type {
  AttemptCostReport,
  HeldSlot,
  TaskError,
  TaskHandlerOutcome,
  TaskRecord,
} from '../queue/task.types';
import { BreakerOpenError } from '../resilience/breaker-open.error';
import { BreakerRegistry } from '../resilience/breaker-registry.service';
import { selectAgent } from '../resilience/select-agent.util';
import { AgentLostError } from './agent-lost.error';
import { AgentReportedFailure } from './agent-reported-failure.error';
import { AgentPicker } from './agent-picker';
import { InFlightRegistry } from './in-flight.registry';
import { ErrorCode } from '../common/errors/error-code.enum';
import { countsAgainstAgent, errorTypeOf, TaskErrorType } from '../resilience/task-error-catalogue';
import { workerControlId } from '../contracts/worker-control-id.util';
import { type TaskMessagePayload, taskResultPayloadSchema } from '../contracts/task-message.schema';

/**
 * The Claude session an attempt may resume: the previous attempt stalled or timed out after its
 * session started (its error's `details.sessionId`), so work already paid for is not redone.
 */
function resumeSessionOf(task: TaskRecord): string | undefined {
  if (task.attempt === 0 || !task.error) return undefined;
  const type = task.error.type;
  if (type !== (TaskErrorType.Stalled as string) && type !== (TaskErrorType.Timeout as string)) {
    return undefined;
  }
  const id = (task.error.details as { sessionId?: unknown } | undefined)?.sessionId;
  return typeof id === 'string' && id.length > 0 ? id : undefined;
}

/** The cost part of an executor's usage report, as the queue records it. */
function costOf(
  usage: { costUsd?: number; inputTokens?: number; outputTokens?: number } | undefined,
): AttemptCostReport | undefined {
  if (!usage) return undefined;
  if (
    usage.costUsd === undefined &&
    usage.inputTokens === undefined &&
    usage.outputTokens === undefined
  )
    return undefined;
  return { usd: usage.costUsd, inputTokens: usage.inputTokens, outputTokens: usage.outputTokens };
}

/**
 * The dispatch loop (seed 1.5): a READY task → the least-loaded healthy agent with the task's
 * capability whose breaker is not open → a reserved slot on it → the task over the bus → the
 * agent's reply → complete or fail (the queue applies the retry policy and releases dependents).
 * No agent free: the task waits (deferred, not an attempt) and is offered again shortly.
 *
 * Agent choice lives in {@link AgentPicker}. What is left here (~530 lines) is one attempt's life
 * on the bus — send, await the reply or the agent's loss, map errors, cancel — plus the waiting
 * set and the liveness sweep that share its in-flight registry; splitting those apart would put
 * one attempt's state in several classes.
 */
@Injectable()
export class OrchestratorService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(OrchestratorService.name);
  private readonly inFlight = new InFlightRegistry();
  private livenessTimer?: NodeJS.Timeout;
  private parkedTimer?: NodeJS.Timeout;
  private unsubscribeAgents?: () => void;
  private redispatch?: Subscription;
  private readonly waiting = new Set<string>();
  private readonly picker: AgentPicker;
  private started = false;
  private runner?: TaskRunner;

  constructor(
    private readonly config: ConfigService,
    private readonly queue: TaskQueueService,
    private readonly discovery: DiscoveryService,
    private readonly bus: MessageBus,
    private readonly breakers: BreakerRegistry,
    private readonly events: EventsService,
    private readonly metrics: MetricsService,
    @Optional() private readonly credentials?: TaskCredentialService,
  ) {
    this.picker = new AgentPicker(discovery, breakers, {
      cacheMs: config.orchestrator.candidateCacheMs,
      maxLoadRatio: config.orchestrator.maxLoadRatio,
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.orchestrator.enabled) {
      this.logger.log('dispatch loop disabled (ORCHESTRATOR_ENABLED=false): API only');
      return;
    }
    await this.start();
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    // The dispatch loop: this instance's runner takes READY jobs and hands each task to dispatch().
    this.runner = this.queue.createRunner(
      (task, signal, held) => this.dispatch(task, signal, held),
      // The start script takes the slot on the agent picked here (one round trip for both).
      {
        pick: (capability) => this.picker.pick(capability),
        unpick: (id) => this.picker.unreserve(id),
      },
    );
    this.runner.start(this.config.orchestrator.concurrency);
    // Tasks the bus dead-lettered back (the agent's handler failed, or the task sat in a queue
    // nobody consumes past BUS_TASK_TTL_MS): fail that attempt now, so it is retried elsewhere
    // instead of waiting out its timeout. Any instance may take these: fail() is exactly-once.
    this.redispatch = await this.bus.subscribeRedispatch?.((m, info) =>
      this.onRedispatch(m, info.deadLetterReason),
    );
    this.livenessTimer = setInterval(
      () => void this.checkLiveness(),
      this.config.orchestrator.livenessCheckMs,
    );
    this.livenessTimer.unref();
    // Parked tasks (no live agent had their capability) are woken per capability, never polled
    // per task: when an agent registers here, and by a sweep that also catches agents that
    // registered on another instance and tasks whose wait timeout passed.
    this.parkedTimer = setInterval(
      () => void this.wakeParked(),
      this.config.orchestrator.noAgentRetryMs,
    );
    this.parkedTimer.unref();
    this.unsubscribeAgents = this.events.subscribe((e) => {
      if (e.type === 'agent.registered' && e.source === undefined) void this.wakeParked();
    });
    this.logger.log(`dispatch loop running (concurrency ${this.config.orchestrator.concurrency})`);
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.livenessTimer);
    clearInterval(this.parkedTimer);
    this.unsubscribeAgents?.();
    await this.redispatch?.cancel().catch(() => undefined);
    if (this.started) {
      // Bounded: with Redis unreachable BullMQ's close can wait forever, and shutdown must not.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        (this.runner?.stop() ?? Promise.resolve()).catch((e: Error) =>
          this.logger.warn(`stopping dispatch: ${e.message}`),
        ),
        new Promise<void>((r) => (timer = setTimeout(r, this.config.http.shutdownTimeoutMs))),
      ]);
      clearTimeout(timer);
    }
    this.started = false;
  }

  private async onRedispatch(message: AgentMessage, reason: string | undefined): Promise<void> {
    if (message.messageType !== 'task' || !message.taskId) return;
    const res = await this.queue.fail(message.taskId, message.attempt, {
      type: 'undelivered',
      message: `the task message to ${message.toAgent} came back from the bus (${reason ?? 'dead-lettered'})`,
      retryable: true,
      details: { agentId: message.toAgent, reason },
    });
    if (res.accepted) {
      this.logger.warn(
        `task ${message.taskId} attempt ${message.attempt} came back from ${message.toAgent} (${reason}); retrying`,
      );
    }
  }

  /** Tasks sent to agents and not answered yet (this instance). */
  get inFlightCount(): number {
    return this.inFlight.count();
  }

  /** The queue's handler for one RUNNING task. Never throws: every path is an outcome. */
  async dispatch(
    task: TaskRecord,
    signal: AbortSignal,
    held?: HeldSlot,
  ): Promise<TaskHandlerOutcome> {
    const tried = new Set<string>();
    if (held) {
      // The start script took the slot on the agent the picker chose (counted as reserved there).
      tried.add(held.agentId);
      this.discovery.observeUtilization({ id: held.agentId, ...held });
      const agent =
        this.picker.cached(task.capability, held.agentId) ??
        (await this.discovery.tryGet(held.agentId));
      if (agent) {
        const outcome = await this.runHeld(agent, task, signal);
        if (outcome) return outcome;
      } else {
        this.picker.unreserve(held.agentId);
        await this.queue.lifecycle
          .releaseSlot(task.id, task.attempt, held.agentId)
          .catch(() => undefined);
      }
    }
    let candidates = await this.picker.candidates(task.capability, false);
    for (let fresh = false; ;) {
      const agent = selectAgent(this.picker.byLocalLoad(candidates), this.breakers, tried);
      if (!agent) {
        // The cached list may be stale (an agent registered or freed up since): look once more.
        if (!fresh) {
          fresh = true;
          candidates = await this.picker.candidates(task.capability, true);
          continue;
        }
        return this.wait(
          task,
          candidates.length === 0 && !(await this.anyLiveAgent(task.capability))
            ? 0
            : Math.max(1, candidates.length),
        );
      }
      tried.add(agent.id);
      // One script takes the slot and records the agent on the task (visible while it runs: GET
      // /v1/tasks, the console, delegation-cycle checks). The script that ends the attempt
      // (complete, fail, defer, park, cancel, timeout) gives the slot back, exactly once.
      const claim = await this.queue.lifecycle.claimSlot(task.id, task.attempt, agent.id);
      if (claim.kind === 'stale') {
        // Cancelled or ended meanwhile: this outcome is refused as stale, nothing changes.
        return { kind: 'deferred', reason: 'the attempt ended before dispatch', delayMs: 0 };
      }
      if (claim.kind === 'full') continue;
      this.discovery.observeUtilization({ id: agent.id, ...claim });
      this.picker.reserve(agent.id);
      const outcome = await this.runHeld(agent, task, signal);
      if (outcome) return outcome;
    }
  }

  /**
   * Runs the attempt on `agent`, whose slot it holds (counted as reserved by the picker). Undefined when
   * the agent's breaker opened before the send: the slot went back, try the next candidate (no
   * attempt spent).
   */
  private async runHeld(
    agent: AgentRecord,
    task: TaskRecord,
    signal: AbortSignal,
  ): Promise<TaskHandlerOutcome | undefined> {
    this.waiting.delete(task.id);
    try {
      return await this.runOn(agent, task, signal);
    } catch (e) {
      if (!(e instanceof BreakerOpenError)) throw e;
      await this.queue.lifecycle
        .releaseSlot(task.id, task.attempt, agent.id)
        .catch(() => undefined);
      return undefined;
    } finally {
      this.picker.unreserve(agent.id);
    }
  }

  private wait(task: TaskRecord, candidates: number): TaskHandlerOutcome {
    if (candidates === 0) {
      this.waiting.delete(task.id);
      const since = task.waitingSince ?? new Date().toISOString();
      return {
        kind: 'parked',
        reason: `waiting for an agent with capability '${task.capability}' since ${since}`,
      };
    }
    const reason = `all ${candidates} agents with capability '${task.capability}' are busy or their breakers are open`;
    if (!this.waiting.has(task.id)) {
      this.waiting.add(task.id);
      this.events.emit('task.waiting', {
        taskId: task.id,
        workflowId: task.workflowId,
        capability: task.capability,
        data: { reason },
      });
    }
    return { kind: 'deferred', reason, delayMs: this.config.orchestrator.noAgentRetryMs };
  }

  private async runOn(
    agent: AgentRecord,
    task: TaskRecord,
    signal: AbortSignal,
  ): Promise<TaskHandlerOutcome> {
    const started = Date.now();
    const line = {
      taskId: task.id,
      agentId: agent.id,
      workflowId: task.workflowId,
      attempt: task.attempt,
    };
    this.logger.debug(taskLine(`dispatching task ${task.id} to ${agent.id}`, line));
    try {
      const reply = await this.breakers.fire(agent.id, () =>
        this.sendAndAwait(agent, task, signal),
      );
      const seconds = (Date.now() - started) / 1000;
      this.metrics.taskDuration.observe({ agent: agent.id }, seconds);
      if (!reply.ok) {
        this.logger.warn(
          taskLine(`task ${task.id} failed on ${agent.id}: ${reply.error.type}`, line, {
            error_type: reply.error.type,
          }),
        );
        return { kind: 'failed', error: reply.error, agentId: agent.id, cost: reply.cost };
      }
      this.logger.debug(taskLine(`task ${task.id} completed by ${agent.id}`, line, { seconds }));
      return { kind: 'completed', result: reply.output, agentId: agent.id, cost: reply.cost };
    } catch (e) {
      if (e instanceof BreakerOpenError) throw e;
      const error = this.toTaskError(e, agent.id);
      this.logger.warn(
        taskLine(`task ${task.id} failed on ${agent.id}: ${error.type}: ${error.message}`, line, {
          error_type: error.type,
        }),
      );
      return { kind: 'failed', error, agentId: agent.id };
    }
  }

  /**
   * Sends the task and resolves with the agent's output, or with a failure that is the task's own
   * fault (bad input: it must not count against the agent's breaker). Rejects on agent failures,
   * loss, timeout or abort — those count.
   */
  private sendAndAwait(
    agent: AgentRecord,
    task: TaskRecord,
    signal: AbortSignal,
  ): Promise<
    | { ok: true; output: unknown; cost?: AttemptCostReport }
    | { ok: false; error: TaskError; cost?: AttemptCostReport }
  > {
    return withSpan(
      'agent_execute',
      { 'agent.id': agent.id, 'task.id': task.id, attempt: task.attempt },
      async () => {
        const payload: TaskMessagePayload = {
          capability: task.capability,
          payload: task.payload,
          inputs: task.inputs ?? {},
          timeoutMs: task.timeoutMs,
          workflowId: task.workflowId,
          description: task.description,
          ...(task.parentTaskId ? { parentTaskId: task.parentTaskId } : {}),
          ...(task.rootTaskId && task.rootTaskId !== task.id
            ? { rootTaskId: task.rootTaskId }
            : {}),
          ...(task.depth ? { depth: task.depth } : {}),
          ...(resumeSessionOf(task) ? { resumeSessionId: resumeSessionOf(task) } : {}),
          ...(task.budgetLeftUsd !== undefined ? { budgetLeftUsd: task.budgetLeftUsd } : {}),
          // Scoped to this task, for the agent's MCP/REST calls (issue 12). Never logged.
          ...(this.credentials
            ? { credential: await this.credentials.issue({ ...task, agentId: agent.id }) }
            : {}),
        };
        let removeInFlight: () => void = () => undefined;
        let onAbort: () => void = () => undefined;
        const interrupted = new Promise<never>((_, reject) => {
          removeInFlight = this.inFlight.add(agent.id, task.id, reject);
          onAbort = () => {
            void this.sendCancel(agent, task.id, String(signal.reason ?? 'cancelled'));
            // A cancel is not the agent's failure (the catalogue keeps it off the breaker); a
            // timeout counts as the catalogue and BREAKER_COUNT_TIMEOUTS say.
            const timedOut = signal.reason === 'timeout';
            reject(
              new AgentReportedFailure({
                type: timedOut ? TaskErrorType.Timeout : TaskErrorType.Cancelled,
                message: `task ${task.id} ${timedOut ? `timed out after ${task.timeoutMs} ms` : 'was cancelled'}`,
                retryable: timedOut,
              }),
            );
          };
          if (signal.aborted) onAbort();
          else signal.addEventListener('abort', onAbort, { once: true });
        });
        try {
          const reply = await Promise.race([
            this.bus.request(
              {
                fromAgent: 'orchestrator',
                toAgent: agent.id,
                taskId: task.id,
                messageType: 'task',
                payload,
                priority: Math.min(10, Math.max(0, task.priority)),
                attempt: task.attempt,
              },
              task.timeoutMs + this.config.orchestrator.replyGraceMs,
            ),
            interrupted,
          ]);
          if (reply.attempt !== task.attempt) {
            this.metrics.duplicateRepliesTotal.inc({ reason: 'attempt_mismatch' });
            throw new Error(`reply for attempt ${reply.attempt}, expected ${task.attempt}`);
          }
          const parsed = taskResultPayloadSchema.safeParse(reply.payload);
          if (!parsed.success) {
            throw new AgentReportedFailure({
              type: TaskErrorType.BadOutput,
              message: `agent ${agent.id} replied with a malformed result: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
              retryable: true,
            });
          }
          const cost = costOf(parsed.data.usage);
          if (parsed.data.ok) return { ok: true as const, output: parsed.data.output, cost };
          const error: TaskError = parsed.data.error;
          // Failures that say nothing about the agent fail the task without touching its breaker.
          if (!countsAgainstAgent(error.type)) return { ok: false as const, error, cost };
          throw new AgentReportedFailure(error);
        } finally {
          removeInFlight();
          signal.removeEventListener('abort', onAbort);
        }
      },
    );
  }

  private toTaskError(e: unknown, agentId: string): TaskError {
    if (e instanceof AgentReportedFailure) return e.error;
    if (e instanceof AgentLostError) {
      return {
        type: TaskErrorType.AgentLost,
        message: e.message,
        retryable: true,
        details: { agentId },
      };
    }
    const err = e as Error;
    const type = errorTypeOf(err);
    if (type === TaskErrorType.Timeout) {
      return {
        type,
        message: `agent ${agentId} did not reply in time: ${err.message}`,
        retryable: true,
      };
    }
    const unavailable =
      (err as { code?: string }).code === (ErrorCode.DependencyUnavailable as string);
    return {
      type:
        unavailable || type === TaskErrorType.Connection
          ? TaskErrorType.Connection
          : TaskErrorType.DispatchError,
      message: err.message,
      retryable: true,
      details: { agentId },
    };
  }

  /**
   * Tells the agent to abort the task: through its worker's control queue (never stuck behind
   * the agent's own prefetch), or the agent's task queue at top priority for agents that are
   * not hosted by a Switchyard worker.
   */
  private async sendCancel(agent: AgentRecord, taskId: string, reason: string): Promise<void> {
    try {
      await this.bus.sendTask({
        fromAgent: 'orchestrator',
        toAgent: agent.workerId ? workerControlId(agent.workerId) : agent.id,
        taskId,
        messageType: 'cancel',
        payload: { reason, agentId: agent.id },
        priority: 10,
      });
    } catch (e) {
      this.logger.warn(
        `could not tell agent ${agent.id} to abort task ${taskId}: ${(e as Error).message}`,
      );
    }
  }

  private wakingParked = false;

  /** Is any live agent (busy or not) serving the capability? None: its tasks park. */
  private async anyLiveAgent(capability: string): Promise<boolean> {
    const agents = await this.discovery.find({
      capability,
      limit: 1,
      excludeStatic: true,
      // Full agents count too: their tasks wait their turn (deferred), they do not park.
      maxLoadRatio: 100,
    });
    return agents.length > 0;
  }

  /** Releases the parked tasks of every capability a live agent now has; fails timed-out waits. */
  private async wakeParked(): Promise<void> {
    if (this.wakingParked) return;
    this.wakingParked = true;
    try {
      await this.queue.lifecycle.expireParked();
      for (const capability of await this.queue.lifecycle.parkedCapabilities()) {
        if (!(await this.anyLiveAgent(capability))) continue;
        const n = await this.queue.lifecycle.releaseParked(capability);
        if (n > 0)
          this.logger.log(
            `an agent with capability '${capability}' is here: ${n} waiting task(s) released`,
          );
      }
    } catch (e) {
      this.logger.warn(`waking parked tasks: ${(e as Error).message}`);
    } finally {
      this.wakingParked = false;
    }
  }

  /** Fails the waits of agents that vanished, so their tasks are retried elsewhere quickly. */
  private async checkLiveness(): Promise<void> {
    for (const agentId of this.inFlight.agents()) {
      try {
        const agent = await this.discovery.tryGet(agentId);
        if (agent && agent.status !== AgentStatus.Offline) continue;
        const tasks = this.inFlight.lose(agentId);
        if (tasks.length > 0) {
          this.logger.warn(
            `agent ${agentId} is gone; retrying its ${tasks.length} task(s) elsewhere`,
          );
        }
      } catch (e) {
        this.logger.warn(`liveness check of ${agentId} failed: ${(e as Error).message}`);
      }
    }
  }
}
