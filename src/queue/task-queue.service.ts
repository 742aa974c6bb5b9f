import { Injectable } from '@nestjs/common';
import type { Page } from '../common/http/pagination';
import { ConfigService } from '../config/config.service';
import { withSpan } from '../observability/tracing';
import { JobPusher } from './job-pusher.service';
import { type DeadlockCycle, QueueMaintenance } from './queue-maintenance.service';
import { type ApplyOptions, type FailResult, TaskLifecycle } from './task-lifecycle.service';
import { type QueueCounts, TaskQueries, type WorkflowRecord } from './task-queries.service';
import { TaskRunner } from './task-runner';
import { TaskStore } from './task-store.repository';
import { TaskSubmission } from './task-submission.service';
import { TaskWatcher } from './task-watcher.service';
import type { TaskJobsAdapter } from './task-jobs.adapter';
import type { CreateTaskInput, CreateWorkflowInput, ListTasksQuery } from './task.schemas';
import type {
  CancelReason,
  SlotPicker,
  TaskError,
  TaskHandler,
  TaskRecord,
  TaskTreeNode,
} from './task.types';

export type { DeadlockCycle, FailResult, QueueCounts, WorkflowRecord };
export { TaskStatus } from './task.types';

/**
 * The queue's façade: one injectable with the whole task API, for controllers, the MCP tools and
 * tests. Each call goes to the class that owns it (see docs/architecture.md):
 * submission → {@link TaskSubmission}, transitions → {@link TaskLifecycle}, reads →
 * {@link TaskQueries}, signals → {@link TaskWatcher}, housekeeping → {@link QueueMaintenance}.
 */
@Injectable()
export class TaskQueueService {
  private runner?: TaskRunner;

  constructor(
    private readonly config: ConfigService,
    readonly store: TaskStore,
    private readonly pusher: JobPusher,
    readonly submission: TaskSubmission,
    readonly lifecycle: TaskLifecycle,
    readonly queries: TaskQueries,
    readonly watcher: TaskWatcher,
    readonly maintenance: QueueMaintenance,
  ) {}

  /** Base of every task key, e.g. `sy:q:tasks:`. */
  get base(): string {
    return this.store.base;
  }

  get jobs(): TaskJobsAdapter {
    return this.pusher.jobs;
  }

  // submission
  enqueue(input: CreateTaskInput): Promise<{ task: TaskRecord; created: boolean }> {
    return this.submission.enqueue(input);
  }
  enqueueMany(inputs: CreateTaskInput[], chunk?: number): Promise<string[]> {
    return this.submission.enqueueMany(inputs, chunk);
  }
  submitWorkflow(
    input: CreateWorkflowInput,
  ): Promise<{ workflow: WorkflowRecord; tasks: TaskRecord[]; created: boolean }> {
    return this.submission.submitWorkflow(input);
  }

  // reads
  findTask(id: string): Promise<TaskRecord | undefined> {
    return this.queries.findTask(id);
  }
  getTask(id: string): Promise<TaskRecord> {
    return this.queries.getTask(id);
  }
  listTasks(q: ListTasksQuery): Promise<Page<TaskRecord>> {
    return this.queries.listTasks(q);
  }
  findWorkflow(id: string): Promise<WorkflowRecord | undefined> {
    return this.queries.findWorkflow(id);
  }
  getWorkflow(id: string): Promise<{ workflow: WorkflowRecord; tasks: TaskRecord[] }> {
    return this.queries.getWorkflow(id);
  }
  getTaskTree(id: string): Promise<TaskTreeNode> {
    return this.queries.getTaskTree(id);
  }
  counts(): Promise<QueueCounts> {
    return this.queries.counts();
  }
  deadLetter(limit: number, cursor?: string): Promise<Page<TaskRecord>> {
    return this.queries.deadLetter(limit, cursor);
  }
  /** The task once terminal, or as it is after `timeoutMs` (event-driven across instances). */
  waitForTerminal(id: string, timeoutMs: number, signal?: AbortSignal): Promise<TaskRecord> {
    return this.watcher.waitForTerminal(id, timeoutMs, signal);
  }

  // transitions
  complete(
    taskId: string,
    attempt: number,
    result: unknown,
    agentId?: string,
    opts?: ApplyOptions,
  ): Promise<boolean> {
    return this.lifecycle.complete(taskId, attempt, result, agentId, opts);
  }
  fail(
    taskId: string,
    attempt: number,
    error: TaskError,
    agentId?: string,
    opts?: ApplyOptions,
  ): Promise<FailResult> {
    return this.lifecycle.fail(taskId, attempt, error, agentId, opts);
  }
  defer(taskId: string, attempt: number, reason: string, delayMs: number): Promise<boolean> {
    return this.lifecycle.defer(taskId, attempt, reason, delayMs);
  }
  cancel(taskId: string, reason: CancelReason = 'user'): Promise<TaskRecord> {
    return this.lifecycle.cancel(taskId, reason);
  }
  cancelWorkflow(workflowId: string): Promise<{ workflow: WorkflowRecord; cancelled: number }> {
    return this.lifecycle.cancelWorkflow(workflowId);
  }
  requeue(taskId: string): Promise<TaskRecord> {
    return this.lifecycle.requeue(taskId);
  }

  // housekeeping
  reconcile(): Promise<{ repushed: number; expired: number }> {
    return this.maintenance.reconcile();
  }
  detectDeadlocks(): Promise<{ cycles: DeadlockCycle[]; blocked: number; tookMs: number }> {
    return this.maintenance.detectDeadlocks();
  }
  resolveDeadlocks(): Promise<{ resolved: { cycle: string[]; cancelled: string }[] }> {
    return this.maintenance.resolveDeadlocks();
  }

  // processing
  /** Pull-style dequeue: the next READY task (highest priority, FIFO within), now RUNNING. */
  async dequeue(): Promise<TaskRecord | null> {
    return withSpan('task_dequeue', {}, async () => {
      for (;;) {
        const got = await this.pusher.jobs.pull((data) =>
          this.lifecycle.start(data.taskId, String(data.gen)),
        );
        if (!got) return null;
        if (got.value) return got.value.task;
      }
    });
  }

  /** A runner for `handler` on this instance (see {@link TaskRunner}); the orchestrator's dispatch. */
  createRunner(handler: TaskHandler, picker?: SlotPicker): TaskRunner {
    return new TaskRunner(this.lifecycle, this.pusher, this.watcher, handler, picker);
  }

  /** Runs READY tasks through `handler` (tests and benchmarks of the queue on its own). */
  async startProcessing(
    handler: TaskHandler,
    options: { concurrency?: number } = {},
  ): Promise<void> {
    if (this.runner) throw new Error('the task queue is already processing');
    this.runner = this.createRunner(handler);
    this.runner.start(options.concurrency ?? this.config.queue.concurrency);
  }

  async stopProcessing(): Promise<void> {
    const r = this.runner;
    this.runner = undefined;
    await r?.stop();
  }
}
