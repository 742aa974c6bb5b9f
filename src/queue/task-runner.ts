import { Logger } from '@nestjs/common';
import { taskLine } from '../observability/task-log';
import { withSpanFrom } from '../observability/tracing';
import { toTaskError } from '../resilience/retry-policy';
import { AttemptDeadline } from './attempt-deadline';
import { OutcomeBacklog } from './outcome-backlog';
import type { JobPusher } from './job-pusher.service';
import type { TaskLifecycle } from './task-lifecycle.service';
import type { TaskWatcher } from './task-watcher.service';
import type {
  HeldSlot,
  SlotPicker,
  TaskHandler,
  TaskHandlerOutcome,
  TaskRecord,
} from './task.types';

/**
 * Runs READY tasks through a handler, `concurrency` at a time on this instance: a BullMQ worker
 * takes the next job (highest priority, FIFO within), the task is marked RUNNING, the handler runs
 * under one {@link AttemptDeadline}, and its outcome is applied. Owned by whoever dispatches (the
 * orchestrator); the queue itself registers no callbacks.
 */
export class TaskRunner {
  private readonly logger = new Logger(TaskRunner.name);
  private readonly running = new Map<string, { attempt: number; deadline: AttemptDeadline }>();
  private unsubscribe?: () => void;
  /** Outcomes that could not be written while Redis was away, applied in order when it is back. */
  readonly outcomes = new OutcomeBacklog();

  constructor(
    private readonly lifecycle: TaskLifecycle,
    private readonly pusher: JobPusher,
    private readonly watcher: TaskWatcher,
    private readonly handler: TaskHandler,
    private readonly picker?: SlotPicker,
  ) {}

  start(concurrency: number): void {
    this.unsubscribe = this.watcher.onCancel((taskId, attempt) => {
      const r = this.running.get(taskId);
      if (r && r.attempt === attempt) r.deadline.cancel();
    });
    this.pusher.jobs.startWorker(
      (data) =>
        this.process(data.taskId, String(data.gen), data.cap).catch((e: Error) => {
          // Never fail the BullMQ job: a failed job keeps its id, so the reconciler could not
          // push it again. The task record tells what to repair: a READY task keeps its outbox
          // entry, a RUNNING one meets its deadline.
          this.logger.warn(
            taskLine(`task ${data.taskId}: ${e.message}; the reconciler will repair it`, {
              taskId: data.taskId,
            }),
          );
        }),
      concurrency,
    );
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.pusher.jobs.stopWorker();
    this.outcomes.close();
  }

  /** Tasks running on this instance now. */
  get active(): number {
    return this.running.size;
  }

  private async process(taskId: string, gen: string, capability?: string): Promise<void> {
    // The job names the capability: the dispatcher picks the agent now and the start script
    // takes its slot in the same round trip.
    const picked = capability ? this.picker?.pick(capability) : undefined;
    let started;
    try {
      started = await this.lifecycle.start(taskId, gen, picked);
    } finally {
      if (picked && !started?.slot) this.picker?.unpick(picked);
    }
    if (!started) return;
    const { task, slot } = started;
    const deadline = new AttemptDeadline(task.timeoutMs);
    this.running.set(task.id, { attempt: task.attempt, deadline });
    let outcome: TaskHandlerOutcome | 'cancelled';
    try {
      outcome = await this.execute(task, deadline, slot);
    } finally {
      deadline.dispose();
      this.running.delete(task.id);
    }
    if (outcome === 'cancelled') return;
    const done = outcome;
    await this.outcomes.apply(`task ${task.id} attempt ${task.attempt}`, () =>
      this.record(task, done),
    );
  }

  private async record(task: TaskRecord, outcome: TaskHandlerOutcome): Promise<void> {
    const opts = { detached: true, cost: 'cost' in outcome ? outcome.cost : undefined };
    switch (outcome.kind) {
      case 'completed':
        await this.lifecycle.complete(task.id, task.attempt, outcome.result, outcome.agentId, opts);
        return;
      case 'failed':
        await this.lifecycle.fail(task.id, task.attempt, outcome.error, outcome.agentId, opts);
        return;
      case 'deferred':
        await this.lifecycle.defer(task.id, task.attempt, outcome.reason, outcome.delayMs, opts);
        return;
      case 'parked':
        await this.lifecycle.park(task.id, task.attempt, outcome.reason, opts);
        return;
    }
  }

  private async execute(
    task: TaskRecord,
    deadline: AttemptDeadline,
    held?: HeldSlot,
  ): Promise<TaskHandlerOutcome | 'cancelled'> {
    try {
      // The dispatch joins the trace the task was submitted in (stored at enqueue).
      const winner = await withSpanFrom(
        task.traceContext,
        'task_execution',
        { 'task.id': task.id, capability: task.capability, attempt: task.attempt },
        () => Promise.race([this.handler(task, deadline.signal, held), deadline.aborted()]),
      );
      if (winner === 'cancelled') return 'cancelled';
      if (winner === 'timeout') {
        return {
          kind: 'failed',
          error: {
            type: 'timeout',
            message: `no result within ${task.timeoutMs} ms`,
            retryable: true,
          },
        };
      }
      return winner;
    } catch (e) {
      return { kind: 'failed', error: toTaskError(e) };
    }
  }
}
