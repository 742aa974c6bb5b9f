import {
  TASK_PROGRESS_MAX_BATCH,
  TASK_PROGRESS_MAX_SUMMARY,
  type TaskProgressMessage,
  type TaskProgressStep,
} from '../bus/task-progress.schema';
import type { RuntimeProgressStep } from './agent-runtime';

export interface TaskProgressPublisherOptions {
  /** Sends one batch (the worker: `bus.sendTask` to the progress destination). */
  send(message: TaskProgressMessage): Promise<unknown>;
  /** How long steps wait to be sent together. */
  flushMs?: number;
  /** Steps held while the bus is slow; beyond this the oldest are dropped (and counted). */
  maxPending?: number;
  onError?(error: unknown): void;
}

interface Group {
  agentId: string;
  taskId: string;
  attempt: number;
  steps: TaskProgressStep[];
}

/**
 * Batches the progress steps of running tasks and sends them to the control plane: one message
 * per task attempt every `flushMs` (or as soon as a batch is full), one flush in flight at a time.
 * Bounded: a slow bus makes it drop the oldest steps (the `seq` gap shows it), never grow.
 */
export class TaskProgressPublisher {
  readonly stats = { steps: 0, messages: 0, dropped: 0, failed: 0 };
  private readonly groups = new Map<string, Group>();
  private pending = 0;
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private readonly flushMs: number;
  private readonly maxPending: number;

  constructor(private readonly options: TaskProgressPublisherOptions) {
    this.flushMs = options.flushMs ?? 100;
    this.maxPending = options.maxPending ?? 10_000;
  }

  add(agentId: string, taskId: string, attempt: number, step: RuntimeProgressStep): void {
    const key = `${taskId}:${attempt}`;
    let group = this.groups.get(key);
    if (!group) {
      group = { agentId, taskId, attempt, steps: [] };
      this.groups.set(key, group);
    }
    group.steps.push(bounded(step));
    this.stats.steps++;
    if (++this.pending > this.maxPending) this.dropOldest();
    if (group.steps.length >= TASK_PROGRESS_MAX_BATCH) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.flushMs);
  }

  /** Sends everything held now; resolves when it has been handed to the bus. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.flushing) await this.flushing;
    if (this.groups.size === 0) return;
    const groups = [...this.groups.values()];
    this.groups.clear();
    this.pending = 0;
    this.flushing = this.sendAll(groups).finally(() => (this.flushing = undefined));
    await this.flushing;
  }

  private async sendAll(groups: Group[]): Promise<void> {
    const messages: TaskProgressMessage[] = [];
    for (const g of groups) {
      for (let i = 0; i < g.steps.length; i += TASK_PROGRESS_MAX_BATCH) {
        messages.push({
          kind: 'task.progress',
          taskId: g.taskId,
          attempt: g.attempt,
          agentId: g.agentId,
          steps: g.steps.slice(i, i + TASK_PROGRESS_MAX_BATCH),
        });
      }
    }
    await Promise.all(
      messages.map((m) =>
        this.options.send(m).then(
          () => void this.stats.messages++,
          (e: unknown) => {
            this.stats.failed += m.steps.length;
            this.options.onError?.(e);
          },
        ),
      ),
    );
  }

  private dropOldest(): void {
    let oldest: Group | undefined;
    for (const g of this.groups.values()) {
      if (g.steps.length > 0 && (!oldest || g.steps[0].at < oldest.steps[0].at)) oldest = g;
    }
    if (oldest) {
      oldest.steps.shift();
      this.pending--;
      this.stats.dropped++;
    }
  }
}

function bounded(step: RuntimeProgressStep): TaskProgressStep {
  const out: TaskProgressStep = {
    seq: step.seq,
    at: step.at,
    kind: step.kind.slice(0, 32),
    summary:
      step.summary.length > TASK_PROGRESS_MAX_SUMMARY
        ? `${step.summary.slice(0, TASK_PROGRESS_MAX_SUMMARY - 1)}…`
        : step.summary,
  };
  if (step.turn !== undefined) out.turn = step.turn;
  if (step.data) {
    out.data = {};
    for (const [k, v] of Object.entries(step.data).slice(0, 20)) {
      out.data[k.slice(0, 64)] = typeof v === 'string' ? v.slice(0, 1000) : v;
    }
  }
  return out;
}
