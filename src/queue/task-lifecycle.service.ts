import { Injectable, Logger } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import { ConfigService } from '../config/config.service';
import { EventsService } from '../events/events.service';
import { MetricsService } from '../observability/metrics.service';
import { taskLine } from '../observability/task-log';
import { settleBoth } from '../redis/replica-ack';
import { decideRetry, resolveRetryPolicy } from '../resilience/retry-policy';
import {
  countsAgainstRetries,
  isRetryableType,
  TaskErrorType,
} from '../resilience/task-error-catalogue';
import { ScriptEffects } from './script-effects.service';
import { asArray, type ScriptResult } from './script-result';
import { TaskQueries, type WorkflowRecord } from './task-queries.service';
import {
  type AttemptCost,
  type SlotClaim,
  type StartedTask,
  TaskStore,
} from './task-store.repository';
import type { CancelReason, RetryPolicyConfig, TaskError, TaskRecord } from './task.types';

export type FailResult =
  | { accepted: false; status: string }
  | { accepted: true; status: 'retrying'; retryAt: string; attempt: number }
  | { accepted: true; status: 'failed' };

/** How the caller applies an outcome: `detached` = do not wait for the job pushes it causes. */
export interface ApplyOptions {
  detached?: boolean;
  cost?: AttemptCost;
}

/** State transitions of one task: start, complete, fail/retry, defer, cancel, requeue. */
@Injectable()
export class TaskLifecycle {
  private readonly logger = new Logger(TaskLifecycle.name);

  constructor(
    private readonly config: ConfigService,
    private readonly store: TaskStore,
    private readonly effects: ScriptEffects,
    private readonly queries: TaskQueries,
    private readonly events: EventsService,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Marks the task of a job (id + READY generation) RUNNING; undefined for a stale job.
   * `agentId`: also take a slot on that agent for the attempt, in the same script (`slot` on the
   * result when taken; like {@link claimSlot}, the script that ends the attempt gives it back).
   */
  async start(taskId: string, gen: string, agentId?: string): Promise<StartedTask | undefined> {
    const now = Date.now();
    const started = await this.store.start(
      taskId,
      gen,
      this.config.queue.reconcileGraceMs,
      now,
      agentId,
    );
    if (!started) return undefined;
    const { task, redelivered, readyAt } = started;
    if (readyAt !== undefined && !redelivered) {
      this.metrics.dispatchLatency.observe(
        { capability: task.capability },
        Math.max(0, now - readyAt) / 1000,
      );
    }
    this.events.emit('task.running', {
      taskId: task.id,
      workflowId: task.workflowId,
      capability: task.capability,
      data: { attempt: task.attempt, redelivered },
    });
    return started;
  }

  /**
   * Records which agent runs the attempt, without a slot (the dispatch loop's {@link claimSlot}
   * records it with the slot; this is for runs outside the registry).
   */
  async assign(taskId: string, agentId: string): Promise<void> {
    await this.store.setFields(taskId, { agent: agentId });
  }

  /**
   * Takes one slot on the agent for the RUNNING attempt and records the agent on the task (one
   * script). The slot is given back by the script that ends the attempt (complete, fail, defer,
   * park, cancel, timeout), exactly once; {@link releaseSlot} gives it back without ending it.
   */
  claimSlot(taskId: string, attempt: number, agentId: string): Promise<SlotClaim> {
    return this.store.claimSlot(taskId, attempt, agentId, 'claim');
  }

  /** Gives back the slot the attempt holds on the agent (the attempt goes on, e.g. elsewhere). */
  async releaseSlot(taskId: string, attempt: number, agentId: string): Promise<boolean> {
    return (await this.store.claimSlot(taskId, attempt, agentId, 'release')).kind === 'claimed';
  }

  /** Completes attempt `attempt` of a RUNNING task exactly once; false for a late/duplicate reply. */
  async complete(
    taskId: string,
    attempt: number,
    result: unknown,
    agentId?: string,
    opts: ApplyOptions = {},
  ): Promise<boolean> {
    const res = await this.store.complete(
      taskId,
      attempt,
      JSON.stringify(result ?? null),
      agentId ?? '',
      opts.cost,
    );
    if (!res.ok) {
      this.metrics.duplicateRepliesTotal.inc({ reason: 'complete' });
      await this.confirmOutcome(taskId, attempt, true);
      return false;
    }
    await this.applyConfirmed(res, taskId, attempt, opts);
    return true;
  }

  /**
   * The effects of an outcome, and (REDIS_MIN_REPLICAS_ACK > 0) WAIT until replicas have it.
   * A WAIT timeout throws ReplicationTimeoutError: the runner holds the outcome (outcome-backlog)
   * and writes it again until it is confirmed - the script refuses the repeat as a duplicate and
   * {@link confirmOutcome} then WAITs for what the master has.
   */
  private async applyConfirmed(
    res: ScriptResult,
    taskId: string,
    attempt: number,
    opts: ApplyOptions,
  ): Promise<void> {
    await settleBoth(
      this.effects.apply(res, { detached: opts.detached }),
      this.store.replicated ? this.confirmOutcome(taskId, attempt, false) : undefined,
    );
  }

  /** WAIT for the outcome of `attempt`; `replay` when this call itself wrote nothing. */
  private async confirmOutcome(taskId: string, attempt: number, replay: boolean): Promise<void> {
    if (!this.store.replicated) return;
    await this.store.confirmReplicated(
      `The outcome of task '${taskId}' attempt ${attempt}`,
      { taskId, attempt },
      replay,
    );
  }

  /**
   * Fails attempt `attempt` of a RUNNING task: retried after a backoff when the policy allows,
   * else FAILED and dead-lettered (its unfinished delegated descendants are cancelled).
   */
  async fail(
    taskId: string,
    attempt: number,
    error: TaskError,
    agentId?: string,
    opts: ApplyOptions = {},
  ): Promise<FailResult> {
    const [retryJson, status, current, recorded, lossesRaw] = await this.store.fields(
      taskId,
      'retry',
      'status',
      'attempt',
      'agent',
      'losses',
    );
    if (status !== 'RUNNING' || current !== String(attempt)) {
      this.metrics.duplicateRepliesTotal.inc({ reason: 'fail' });
      await this.confirmOutcome(taskId, attempt, true);
      return { accepted: false, status: status ?? 'UNKNOWN' };
    }
    const now = Date.now();
    const losses = Number(lossesRaw ?? 0);
    // A usage/rate limit with a known reset: the task waits for it without spending an attempt.
    const resetAt = rateLimitResetOf(error);
    if (resetAt !== undefined) {
      const until = new Date(Math.max(now, resetAt)).toISOString();
      const ok = await this.defer(
        taskId,
        attempt,
        `rate limited until ${until}: ${error.message}`,
        resetAt - now,
        opts,
      );
      if (!ok) return { accepted: false, status: 'UNKNOWN' };
      this.logger.log(
        taskLine(
          `task ${taskId}: ${error.type} on ${agentId ?? 'its agent'}; waits until ${until} (no retry spent)`,
          { taskId, agentId, attempt },
        ),
      );
      return { accepted: true, status: 'retrying', retryAt: until, attempt };
    }
    const infraLoss =
      !countsAgainstRetries(error.type) && isRetryableType(error.type, error.retryable);
    // An infrastructure loss is not the task's try: a new attempt at once, its retries untouched.
    if (infraLoss && losses + 1 < this.config.queue.maxInfraLosses) {
      const res = await this.store.fail(
        taskId,
        attempt,
        'lost',
        JSON.stringify(error),
        now,
        'redispatch',
        agentId ?? '',
        opts.cost,
        now,
      );
      if (!res.ok) {
        this.metrics.duplicateRepliesTotal.inc({ reason: 'fail' });
        return { accepted: false, status: res.status ?? 'UNKNOWN' };
      }
      await this.applyConfirmed(res, taskId, attempt, opts);
      if (res.status === 'FAILED') return { accepted: true, status: 'failed' }; // over budget
      this.logger.log(
        taskLine(`task ${taskId} attempt ${attempt} lost (${error.type}); re-dispatched at once`, {
          taskId,
          agentId,
          attempt,
        }),
      );
      return {
        accepted: true,
        status: 'retrying',
        retryAt: new Date(now).toISOString(),
        attempt: attempt + 1,
      };
    }
    if (infraLoss) {
      error = {
        ...error,
        message: `${error.message} (lost ${losses + 1} attempts to infrastructure, the QUEUE_MAX_INFRA_LOSSES cap)`,
      };
    }
    const policy = resolveRetryPolicy(
      this.store.retryDefaults,
      JSON.parse(retryJson || '{}') as Partial<RetryPolicyConfig>,
    );
    // Only the task's own tries count against its retries.
    const decision = infraLoss
      ? ({ retry: false, reason: 'retries_exhausted' } as const)
      : decideRetry(error, attempt - losses, policy);
    const res = decision.retry
      ? await this.store.fail(
          taskId,
          attempt,
          'retry',
          JSON.stringify(error),
          now + decision.delayMs,
          'retry',
          agentId ?? '',
          opts.cost,
          now,
        )
      : await this.store.fail(
          taskId,
          attempt,
          'fail',
          JSON.stringify(error),
          0,
          decision.reason === 'non_retryable' ? error.type : 'retries_exhausted',
          agentId ?? '',
          opts.cost,
          now,
        );
    if (!res.ok) {
      this.metrics.duplicateRepliesTotal.inc({ reason: 'fail' });
      return { accepted: false, status: res.status ?? 'UNKNOWN' };
    }
    await this.applyConfirmed(res, taskId, attempt, opts);
    if (res.status === 'FAILED') return { accepted: true, status: 'failed' }; // over budget
    if (decision.retry) {
      this.metrics.retryAttemptsTotal.inc({
        agent: agentId || recorded || 'none',
        error_type: error.type,
      });
      this.logger.log(
        taskLine(
          `task ${taskId} attempt ${attempt} failed (${error.type}); retry in ${decision.delayMs} ms`,
          { taskId, agentId, attempt },
        ),
      );
      return {
        accepted: true,
        status: 'retrying',
        retryAt: new Date(now + decision.delayMs).toISOString(),
        attempt: attempt + 1,
      };
    }
    return { accepted: true, status: 'failed' };
  }

  /** Not an attempt (e.g. no agent free): READY again after `delayMs`, same attempt. */
  async defer(
    taskId: string,
    attempt: number,
    reason: string,
    delayMs: number,
    opts: ApplyOptions = {},
  ): Promise<boolean> {
    const now = Date.now();
    const res = await this.store.fail(
      taskId,
      attempt,
      'defer',
      '',
      now + Math.max(0, delayMs),
      `deferred: ${reason}`,
      '',
      {},
      now,
    );
    if (!res.ok) return false;
    await this.applyConfirmed(res, taskId, attempt, opts);
    return true;
  }

  /**
   * Parks a RUNNING attempt no live agent can take: READY again (same attempt) with no queue job,
   * so nothing polls it; {@link releaseParked} wakes it when an agent with the capability appears.
   */
  async park(
    taskId: string,
    attempt: number,
    reason: string,
    opts: ApplyOptions = {},
  ): Promise<boolean> {
    const res = await this.store.park(taskId, attempt, reason);
    if (!res.ok) return false;
    await this.applyConfirmed(res, taskId, attempt, opts);
    return true;
  }

  /** Capabilities with parked tasks. */
  parkedCapabilities(): Promise<string[]> {
    return this.store.parkedCapabilities();
  }

  /** Makes every parked task of `capability` READY again (an agent with it appeared). */
  async releaseParked(capability: string): Promise<number> {
    const res = await this.store.unpark('capability', capability);
    await this.effects.apply(res);
    return res.released ?? 0;
  }

  /** Fails (no_agent, not retried) the parked tasks whose wait timeout passed. */
  async expireParked(now = Date.now()): Promise<number> {
    const res = await this.store.unpark('expired', '', 1000, now);
    await this.effects.apply(res);
    return res.released ?? 0;
  }

  /** Cancels a non-terminal task and its unfinished descendants; runners hear of it on ch:cancel. */
  async cancel(taskId: string, reason: CancelReason = 'user'): Promise<TaskRecord> {
    const res = await this.store.cancel('task', taskId, reason);
    this.refuseUnlessOk(res, 'Task', taskId, (s) => `is already ${s}`);
    await this.effects.apply(res, { wasRunning: wasRunning(res) });
    return this.queries.getTask(taskId);
  }

  /** Cancels every non-terminal task of a workflow. */
  async cancelWorkflow(
    workflowId: string,
  ): Promise<{ workflow: WorkflowRecord; cancelled: number }> {
    const res = await this.store.cancel('workflow', workflowId, 'user');
    this.refuseUnlessOk(res, 'Workflow', workflowId, (s) => `is already ${s}`);
    await this.effects.apply(res, { wasRunning: wasRunning(res) });
    return {
      workflow: (await this.queries.findWorkflow(workflowId))!,
      cancelled: asArray(res.cancelled).length,
    };
  }

  /** Runs a dead-lettered task again from attempt 0 (and revives dependents it had failed). */
  async requeue(taskId: string): Promise<TaskRecord> {
    const res = await this.store.requeue(taskId);
    this.refuseUnlessOk(res, 'Task', taskId, (s) => `is ${s}, not in the dead-letter list`);
    await this.effects.apply(res);
    return this.queries.getTask(taskId);
  }

  /** The one place that turns a script's refusal into 404 (unknown) or 409 (wrong state). */
  private refuseUnlessOk(
    res: ScriptResult,
    what: 'Task' | 'Workflow',
    id: string,
    why: (status: string) => string,
  ): void {
    if (res.ok) return;
    if (!res.status) throw AppException.notFound(what.toLowerCase(), id);
    throw new AppException(ErrorCode.Conflict, `${what} '${id}' ${why(res.status)}`, {
      [what === 'Task' ? 'taskId' : 'workflowId']: id,
      status: res.status,
    });
  }
}

function wasRunning(res: ScriptResult): Set<string> {
  return new Set(
    asArray(res.cancelled)
      .filter((c) => c[1] === 'RUNNING')
      .map((c) => c[0]),
  );
}

/** The reset time (ms) of a rate/usage-limit failure that names one (`details.retryAt`). */
function rateLimitResetOf(error: TaskError): number | undefined {
  if (error.type !== (TaskErrorType.RateLimited as string)) return undefined;
  const at = (error.details as { retryAt?: unknown } | undefined)?.retryAt;
  const ms = typeof at === 'string' ? Date.parse(at) : typeof at === 'number' ? at : NaN;
  return Number.isFinite(ms) ? ms : undefined;
}
