import type { AgentDefinition } from '../agents/agent-definition.type';
import { createExecutor as defaultCreateExecutor } from './executors/create-executor';
import {
  ExecutionAborted,
  ExecutionFailure,
  abortFailure,
  errorMessage,
  failure,
} from './executors/execution-error';
import type { ExecutorOptions } from './executors/executor-options';
import type {
  DelegateOptions,
  ExecutionContext,
  ExecutionRequest,
  ExecutionResult,
  Executor,
  WorkerLogger,
} from './executors/executor.types';
import { FinishedAttempts } from './finished-attempts';
import { workerMetrics } from './worker-metrics';

/** The task a delegation is made from (given to the wiring's delegate function). */
export interface DelegationParent {
  agent: string;
  taskId: string;
  attempt: number;
  workflowId?: string;
  /** The parent's task credential: children are created and awaited with it. */
  credential?: string;
}

/**
 * Submits a child task through the control plane and resolves with its result. Should reject with
 * an `ExecutionFailure('delegation_failed', …)` when the child fails; other errors are wrapped.
 */
export type RuntimeDelegateFn = (
  parent: DelegationParent,
  capability: string,
  payload: unknown,
  options: DelegateOptions & { signal: AbortSignal },
) => Promise<unknown>;

/** One execution the runtime holds (running, or waiting for a free slot). */
export interface ExecutionInfo {
  agent: string;
  taskId: string;
  attempt: number;
  state: 'waiting' | 'running';
  /** ISO time `run` was first called for this task+attempt. */
  acceptedAt: string;
  /** Root of the task's delegation tree, when known. */
  rootTaskId?: string;
  /**
   * Running on a slot borrowed from an ancestor in the same tree that this agent is running
   * (and that is waiting for it): not counted against `maxConcurrency`.
   */
  borrowed?: boolean;
}

/** Hooks for the process wiring (heartbeat load, metrics, logs). All optional, all synchronous. */
export interface RuntimeListener {
  /** An agent's running count changed (report it in the next heartbeat). */
  loadChanged?(agent: string, load: number, maxConcurrency: number): void;
  started?(info: ExecutionInfo): void;
  finished?(info: ExecutionInfo, result: ExecutionResult): void;
  /** A request for a task+attempt already held joined it instead of starting again. */
  joined?(info: ExecutionInfo): void;
  /**
   * A request for a task+attempt this runtime already finished (a broker redelivery, e.g. after a
   * RabbitMQ restart) was answered with the stored result instead of running again.
   */
  replayed?(info: ExecutionInfo, result: ExecutionResult): void;
  /**
   * A running execution reported a step (`claude`: transcript steps). `seq` counts from 0 per
   * task attempt. Forward it to the control plane as task progress.
   */
  progress?(info: ExecutionInfo, step: RuntimeProgressStep): void;
}

/** A progress step as the runtime hands it on: numbered and timed. */
export type RuntimeProgressStep = Parameters<NonNullable<ExecutionContext['progress']>>[0] & {
  seq: number;
  at: string;
};

export interface AgentRuntimeOptions {
  executorOptions: ExecutorOptions;
  logger?: WorkerLogger;
  /** Makes `ctx.delegate` work; without it, delegating fails with a clear `validation` error. */
  delegate?: RuntimeDelegateFn;
  /**
   * An agent already running `maxConcurrency` tasks: `wait` (default) queues the request until a
   * slot frees (the bus prefetch bounds how many wait); `reject` fails it at once with the
   * retryable `agent_busy`.
   */
  whenBusy?: 'wait' | 'reject';
  listener?: RuntimeListener;
  /** Control-plane URL given to executors with the task credential (`ctx.switchyard`). */
  switchyardUrl?: () => string;
  /** Replaces the executor factory (embedding, tests of the runtime with a custom executor). */
  createExecutor?: (agent: AgentDefinition, options: ExecutorOptions) => Executor;
  /**
   * How many finished attempts (`taskId:attempt` → result) are remembered, and for how long, so a
   * redelivery of one is answered from the record instead of running again. Defaults:
   * `FINISHED_MEMORY_DEFAULTS` (10,000 entries, 10 minutes; ~1–2 KB each for small results).
   */
  finishedMemory?: { maxEntries?: number; ttlMs?: number };
}

export const FINISHED_MEMORY_DEFAULTS = { maxEntries: 10_000, ttlMs: 10 * 60_000 } as const;

export interface DrainReport {
  /** Executions that finished on their own during the drain (`taskId:attempt`). */
  finished: string[];
  /** Executions aborted (or never started) when the drain timed out: they end with the retryable `drained` error and must be given back to the queue. */
  handedBack: { agent: string; taskId: string; attempt: number }[];
}

interface Held {
  info: ExecutionInfo;
  controller: AbortController;
  promise: Promise<ExecutionResult>;
}

interface AgentSlot {
  agent: AgentDefinition;
  executor: Executor;
  running: number;
  waiters: (() => void)[];
}

const silentLogger: WorkerLogger = {
  log: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/**
 * Runs tasks for the agents of one worker, whatever carries the tasks in (bus, in-process queue,
 * tests). Enforces each agent's `maxConcurrency`, joins duplicate deliveries of one
 * `taskId:attempt` to the execution already running, cancels (the executor kills its process
 * group) and drains. It never talks to the network itself: the caller registers, heartbeats
 * (`load()`), consumes, replies and provides `delegate`.
 */
export class AgentRuntime {
  private readonly slots = new Map<string, AgentSlot>();
  private readonly held = new Map<string, Held>();
  private readonly finished: FinishedAttempts;
  private readonly logger: WorkerLogger;
  private drainingSince?: number;

  constructor(
    agents: readonly AgentDefinition[],
    private readonly options: AgentRuntimeOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
    this.finished = new FinishedAttempts(
      options.finishedMemory?.maxEntries ?? FINISHED_MEMORY_DEFAULTS.maxEntries,
      options.finishedMemory?.ttlMs ?? FINISHED_MEMORY_DEFAULTS.ttlMs,
    );
    const make = options.createExecutor ?? defaultCreateExecutor;
    for (const agent of agents) {
      if (this.slots.has(agent.name)) throw new Error(`agent ${agent.name} is defined twice`);
      this.slots.set(agent.name, {
        agent,
        executor: make(agent, options.executorOptions),
        running: 0,
        waiters: [],
      });
    }
  }

  /** The agents this runtime hosts. */
  agents(): AgentDefinition[] {
    return [...this.slots.values()].map((s) => s.agent);
  }

  agent(name: string): AgentDefinition | undefined {
    return this.slots.get(name)?.agent;
  }

  /** Tasks the agent is running now (not counting those waiting for a slot). */
  load(agentName: string): number {
    return this.slots.get(agentName)?.running ?? 0;
  }

  /** Running count per agent. */
  loads(): Record<string, number> {
    return Object.fromEntries([...this.slots].map(([name, s]) => [name, s.running]));
  }

  /** Executions held now (running or waiting). */
  executions(): ExecutionInfo[] {
    return [...this.held.values()].map((h) => ({ ...h.info }));
  }

  /** Whether `taskId` (any attempt, or this one) is held. */
  isRunning(taskId: string, attempt?: number): boolean {
    if (attempt !== undefined) return this.held.has(key(taskId, attempt));
    return [...this.held.values()].some((h) => h.info.taskId === taskId);
  }

  /** The stored result of a finished `taskId:attempt`, if still remembered. */
  finishedResult(taskId: string, attempt: number): ExecutionResult | undefined {
    return this.finished.recall(key(taskId, attempt))?.result;
  }

  /** How many finished attempts are remembered now. */
  get finishedCount(): number {
    return this.finished.size;
  }

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  /**
   * Runs one task attempt on `agentName`. Never rejects. A request for a `taskId:attempt` that is
   * already held returns the same promise (a redelivery joins the running execution); a
   * redelivery of the message (same `deliveryId`) of an attempt that finished recently resolves
   * with the stored result at once (after a broker restart lost the ack, the attempt does not run
   * a second time). A new dispatch of the same attempt (another message: a manual retry of a
   * FAILED task re-queues attempt 0) runs again.
   */
  run(agentName: string, request: ExecutionRequest): Promise<ExecutionResult> {
    const k = key(request.taskId, request.attempt);
    const existing = this.held.get(k);
    if (existing) {
      this.logger.log('duplicate delivery joined the running execution', {
        agent: agentName,
        taskId: request.taskId,
        attempt: request.attempt,
      });
      this.options.listener?.joined?.({ ...existing.info });
      workerMetrics.joins.inc({ agent: agentName });
      return existing.promise;
    }
    const done = this.finished.recall(k);
    if (done && request.deliveryId !== undefined && done.deliveryId === request.deliveryId) {
      this.logger.log('redelivery of a finished attempt answered from its stored result', {
        agent: agentName,
        taskId: request.taskId,
        attempt: request.attempt,
      });
      this.options.listener?.replayed?.({ ...done.info }, done.result);
      return Promise.resolve(done.result);
    }
    const slot = this.slots.get(agentName);
    if (!slot)
      return Promise.resolve(failure('not_found', `this worker hosts no agent named ${agentName}`));
    if (this.draining) {
      return Promise.resolve(failure('drained', 'worker is shutting down; task handed back'));
    }
    if (this.options.whenBusy === 'reject' && slot.running >= slot.agent.maxConcurrency) {
      return Promise.resolve(
        failure(
          'agent_busy',
          `agent ${agentName} is running ${slot.running}/${slot.agent.maxConcurrency} tasks`,
        ),
      );
    }
    const controller = new AbortController();
    const info: ExecutionInfo = {
      agent: agentName,
      taskId: request.taskId,
      attempt: request.attempt,
      state: 'waiting',
      acceptedAt: new Date().toISOString(),
    };
    if (request.rootTaskId) info.rootTaskId = request.rootTaskId;
    const held: Held = {
      info,
      controller,
      promise: Promise.resolve(failure('cancelled', 'not started')),
    };
    // Remembered and released in one step: a redelivery always finds the attempt in one of the two.
    held.promise = this.execute(slot, request, held).then(
      (result) => {
        this.finished.remember(k, held.info, result, request.deliveryId);
        this.held.delete(k);
        return result;
      },
      (err: unknown) => {
        this.held.delete(k);
        throw err;
      },
    );
    this.held.set(k, held);
    return held.promise;
  }

  /**
   * Aborts every held attempt of `taskId` (waiting ones end at once; a running command/claude
   * process group gets SIGTERM, then SIGKILL after the grace). Returns how many were aborted.
   * The `run` promise resolves with a `cancelled` failure once the executor has stopped.
   */
  cancel(taskId: string): number {
    let n = 0;
    for (const h of this.held.values()) {
      if (h.info.taskId === taskId && !h.controller.signal.aborted) {
        h.controller.abort(new ExecutionAborted('cancelled'));
        n++;
      }
    }
    return n;
  }

  /**
   * Stops accepting work, waits up to `timeoutMs` for held executions, then aborts the rest with
   * reason `drained` (retryable) and waits for their executors to stop. Resolves with what finished
   * and what was handed back. Call once on SIGTERM, after stopping consumption.
   */
  async drain(timeoutMs: number): Promise<DrainReport> {
    this.drainingSince ??= Date.now();
    const report: DrainReport = { finished: [], handedBack: [] };
    const pending = [...this.held.entries()];
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((res) => {
      timer = setTimeout(res, timeoutMs);
    });
    // Waiting requests are handed back at once: they have not started.
    for (const [, h] of pending) {
      if (h.info.state === 'waiting') h.controller.abort(new ExecutionAborted('drained'));
    }
    await Promise.race([Promise.allSettled(pending.map(([, h]) => h.promise)), deadline]);
    if (timer) clearTimeout(timer);
    for (const [, h] of pending) {
      if (this.held.has(key(h.info.taskId, h.info.attempt)) && !h.controller.signal.aborted) {
        h.controller.abort(new ExecutionAborted('drained'));
      }
    }
    const results = await Promise.all(
      pending.map(([k, h]) => h.promise.then((r) => [k, h, r] as const)),
    );
    for (const [k, h, r] of results) {
      if (!r.ok && r.error.type === 'drained') {
        report.handedBack.push({
          agent: h.info.agent,
          taskId: h.info.taskId,
          attempt: h.info.attempt,
        });
      } else {
        report.finished.push(k);
      }
    }
    return report;
  }

  private async execute(
    slot: AgentSlot,
    request: ExecutionRequest,
    held: Held,
  ): Promise<ExecutionResult> {
    const signal = held.controller.signal;
    const borrowed = this.ancestorRunning(slot, held.info);
    const acquired = borrowed || (await this.acquire(slot, signal));
    if (!acquired) return abortFailure(signal);
    if (borrowed) held.info.borrowed = true;
    const { agent } = slot;
    const release = () => {
      if (!borrowed) this.release(slot);
    };
    if (signal.aborted) {
      release();
      return abortFailure(signal);
    }
    held.info.state = 'running';
    this.options.listener?.loadChanged?.(agent.name, slot.running, agent.maxConcurrency);
    this.options.listener?.started?.({ ...held.info });
    workerMetrics.started(agent.name, slot.executor.kind, slot.running);
    const startedAt = process.hrtime.bigint();
    let result: ExecutionResult;
    const onProgress = this.options.listener?.progress;
    let seq = 0;
    try {
      result = await slot.executor.execute(request, {
        signal,
        agent,
        logger: this.logger,
        delegate: (capability, payload, opts) =>
          this.delegate(agent, request, signal, capability, payload, opts),
        ...(request.credential && this.options.switchyardUrl
          ? { switchyard: { url: this.options.switchyardUrl(), token: request.credential } }
          : {}),
        ...(onProgress && {
          progress: (step) =>
            onProgress({ ...held.info }, { ...step, seq: seq++, at: new Date().toISOString() }),
        }),
      });
    } catch (err) {
      // Executors resolve failures; a throw is a bug in a custom executor, reported as one.
      this.logger.error('executor threw', {
        agent: agent.name,
        taskId: request.taskId,
        error: errorMessage(err),
      });
      result = signal.aborted ? abortFailure(signal) : failure('handler_error', errorMessage(err));
    } finally {
      release();
      this.options.listener?.loadChanged?.(agent.name, slot.running, agent.maxConcurrency);
    }
    const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
    workerMetrics.finished(agent.name, slot.executor.kind, slot.running, result, seconds);
    this.options.listener?.finished?.({ ...held.info }, result);
    return result;
  }

  /**
   * No pool deadlock: a task of a delegation tree this agent is already running a task of (its
   * ancestor, which is waiting for it) runs on that ancestor's slot instead of queueing behind
   * it. The queue's depth and fan-out limits bound how many can borrow.
   */
  private ancestorRunning(slot: AgentSlot, info: ExecutionInfo): boolean {
    if (!info.rootTaskId) return false;
    for (const h of this.held.values()) {
      if (
        h.info.agent === slot.agent.name &&
        h.info.state === 'running' &&
        h.info.taskId !== info.taskId &&
        h.info.rootTaskId === info.rootTaskId
      ) {
        return true;
      }
    }
    return false;
  }

  /** Takes a slot (resolves true), or resolves false if the signal aborts while waiting for one. */
  private acquire(slot: AgentSlot, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (slot.running < Math.max(1, slot.agent.maxConcurrency) && slot.waiters.length === 0) {
      slot.running++;
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      const wake = () => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      };
      const onAbort = () => {
        const i = slot.waiters.indexOf(wake);
        if (i >= 0) slot.waiters.splice(i, 1);
        resolve(false);
      };
      slot.waiters.push(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Frees a slot and hands it straight to the oldest waiter, if any. */
  private release(slot: AgentSlot): void {
    slot.running--;
    const next = slot.waiters.shift();
    if (next) {
      slot.running++;
      next();
    }
  }

  private async delegate(
    agent: AgentDefinition,
    request: ExecutionRequest,
    signal: AbortSignal,
    capability: string,
    payload: unknown,
    opts: DelegateOptions | undefined,
  ): Promise<unknown> {
    if (!this.options.delegate) {
      throw new ExecutionFailure(
        'validation',
        `agent ${agent.name} tried to delegate "${capability}" but this worker has no delegation configured (it needs a control-plane connection)`,
      );
    }
    const parent: DelegationParent = {
      agent: agent.name,
      taskId: request.taskId,
      attempt: request.attempt,
      ...(request.workflowId ? { workflowId: request.workflowId } : {}),
      ...(request.credential ? { credential: request.credential } : {}),
    };
    try {
      return await this.options.delegate(parent, capability, payload, {
        ...opts,
        signal: opts?.signal ?? signal,
      });
    } catch (err) {
      if (err instanceof ExecutionFailure || signal.aborted) throw err;
      throw new ExecutionFailure(
        'delegation_failed',
        `delegated "${capability}" failed: ${errorMessage(err)}`,
      );
    }
  }
}

function key(taskId: string, attempt: number): string {
  return `${taskId}:${attempt}`;
}
