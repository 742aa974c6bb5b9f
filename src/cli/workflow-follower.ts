import { WebSocket } from 'ws';
import { submitIdempotent } from './idempotent-submit';
import type { ApiClient } from './api-client';
import { formatDuration } from './table.util';

/** A workflow as the CLI reads it from `GET /v1/workflows/{id}` (tolerant of field names). */
export interface WorkflowView {
  id: string;
  status: string;
  tasks: { id: string; ref?: string; status?: string; startedAt?: string; completedAt?: string }[];
  total: number | undefined;
  /** The workflow record itself (without its tasks). */
  record: Record<string, unknown>;
  raw: Record<string, unknown>;
}

/**
 * Reads `{workflow: {id, status, total...}, tasks: [...]}` (what /v1/workflows answers); a flat
 * `{id, status, tasks}` is accepted too.
 */
export function normalizeWorkflow(body: unknown): WorkflowView {
  const raw = (body ?? {}) as Record<string, unknown>;
  const record =
    raw.workflow !== null && typeof raw.workflow === 'object'
      ? (raw.workflow as Record<string, unknown>)
      : raw;
  const idValue = record.id ?? record.workflowId;
  const id = typeof idValue === 'string' || typeof idValue === 'number' ? String(idValue) : '';
  const status = typeof record.status === 'string' ? record.status.toUpperCase() : 'UNKNOWN';
  const tasks = Array.isArray(raw.tasks) ? (raw.tasks as WorkflowView['tasks']) : [];
  const total = typeof record.total === 'number' ? record.total : tasks.length || undefined;
  return { id, status, tasks, total, record, raw };
}

const SUCCESS = new Set(['COMPLETED', 'SUCCEEDED']);
const WORKFLOW_DONE = new Set(['COMPLETED', 'SUCCEEDED', 'FAILED', 'CANCELLED']);
const TASK_DONE = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

/** What the follower reads of a task record (GET /v1/tasks/{id}) to explain an event. */
interface TaskFacts {
  agentId?: string;
  attempt?: number;
  retryAt?: string;
  reason?: string;
  retry?: { maxRetries?: number };
  error?: { type?: string; message?: string; retryable?: boolean };
}

interface LiveEvent {
  type: string;
  at: string;
  taskId?: string;
  workflowId?: string;
  agentId?: string;
  data?: Record<string, unknown>;
}

export interface FollowResult {
  status: string;
  succeeded: boolean;
  workflow?: WorkflowView;
  /** The id of the workflow it submitted (also when it finished on a live-feed event). */
  workflowId?: string;
}

/**
 * `workflow run --follow`: listens on the live feed before submitting (so no early event is
 * missed), prints a line per finished task with a progress counter, and polls
 * `GET /v1/workflows/{id}` as well, so a lost event or a dead feed cannot leave it hanging.
 */
export class WorkflowFollower {
  private ws?: WebSocket;
  private workflowId?: string;
  private total: number | undefined;
  private readonly done = new Set<string>();
  private readonly startedAt = new Map<string, number>();
  private readonly refs = new Map<string, string>();
  private readonly early: LiveEvent[] = [];
  private finished?: (result: FollowResult) => void;
  private pollTimer?: NodeJS.Timeout;
  private readonly t0 = Date.now();
  /** Lines are printed in event order even when one needs a task lookup first. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly api: ApiClient,
    private readonly opts: {
      json?: boolean;
      pollMs: number;
      timeoutMs?: number;
      idempotencyKey?: string;
    },
    private readonly out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
    private readonly warn: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
  ) {}

  /** Connects the feed (best effort) then submits; resolves when the workflow ends. */
  async run(definition: unknown): Promise<FollowResult> {
    await this.connectFeed().catch((e: unknown) =>
      this.warn(`live feed unavailable (${(e as Error).message}); following by polling`),
    );
    try {
      const created = normalizeWorkflow(
        await submitIdempotent<unknown>(
          this.api,
          '/v1/workflows',
          definition,
          this.opts.idempotencyKey,
          this.warn,
        ),
      );
      this.workflowId = created.id;
      this.learn(created, definition);
      if (this.opts.json) this.out(JSON.stringify({ submitted: created.raw }));
      else this.out(`Workflow ${created.id} submitted (${this.total ?? '?'} tasks)`);
      const result = new Promise<FollowResult>((resolve) => (this.finished = resolve));
      this.send({ type: 'subscribe', id: 'workflow', filters: { workflowId: created.id } });
      this.send({ type: 'unsubscribe', id: 'all' });
      for (const e of this.early.splice(0)) this.onEvent(e);
      this.schedulePoll(0);
      if (this.opts.timeoutMs !== undefined) {
        setTimeout(
          () => this.finish({ status: 'TIMEOUT', succeeded: false }),
          this.opts.timeoutMs,
        ).unref();
      }
      return await result;
    } finally {
      clearTimeout(this.pollTimer);
      this.ws?.terminate();
    }
  }

  private connectFeed(): Promise<void> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (this.api.token) headers.authorization = `Bearer ${this.api.token}`;
      const ws = new WebSocket(this.api.liveUrl, { headers });
      this.ws = ws;
      const timer = setTimeout(() => reject(new Error('no welcome within 5s')), 5000);
      ws.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      ws.on('close', (code, reason) => {
        clearTimeout(timer);
        reject(new Error(`closed ${code} ${String(reason)}`));
        if (this.workflowId && this.finished) {
          this.warn(`live feed closed (${code}); continuing by polling`);
        }
      });
      ws.on('message', (data: Buffer) => {
        let msg: { type?: string; event?: LiveEvent; code?: string; message?: string };
        try {
          msg = JSON.parse(data.toString('utf8')) as typeof msg;
        } catch {
          return;
        }
        if (msg.type === 'welcome') {
          ws.send(
            JSON.stringify({
              type: 'subscribe',
              id: 'all',
              filters: { types: ['task.*', 'workflow.*'] },
            }),
          );
        } else if (msg.type === 'subscribed') {
          clearTimeout(timer);
          resolve();
        } else if (msg.type === 'event' && msg.event) {
          if (this.workflowId === undefined) this.early.push(msg.event);
          else this.onEvent(msg.event);
        } else if (msg.type === 'dropped') {
          this.schedulePoll(0);
        } else if (msg.type === 'error' && msg.code === 'UNAUTHENTICATED') {
          reject(new Error(msg.message ?? 'unauthenticated'));
        }
      });
    });
  }

  private send(message: unknown): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  private learn(view: WorkflowView, definition?: unknown): void {
    for (const t of view.tasks) if (t.ref) this.refs.set(t.id, t.ref);
    if (view.total !== undefined) this.total = view.total;
    const defined = (definition as { tasks?: unknown } | undefined)?.tasks;
    if (this.total === undefined && Array.isArray(defined)) this.total = defined.length;
  }

  private name(taskId: string): string {
    return this.refs.get(taskId) ?? taskId;
  }

  private serial(step: () => void | Promise<void>): void {
    this.chain = this.chain.then(step).catch((e: unknown) => this.warn((e as Error).message));
  }

  /** The task record, or undefined when it cannot be read (the line is printed without it). */
  private async facts(taskId: string): Promise<TaskFacts | undefined> {
    try {
      return await this.api.get<TaskFacts>(`/v1/tasks/${encodeURIComponent(taskId)}`);
    } catch {
      return undefined;
    }
  }

  private onEvent(e: LiveEvent): void {
    if (e.workflowId !== this.workflowId) return;
    this.serial(() => this.handle(e));
  }

  private async handle(e: LiveEvent): Promise<void> {
    if (this.opts.json) this.out(JSON.stringify({ event: e }));
    const taskId = e.taskId;
    const at = Date.parse(e.at);
    switch (e.type) {
      case 'task.running': {
        if (taskId) this.startedAt.set(taskId, at);
        if (!taskId || this.opts.json) return;
        const agent = e.agentId ?? (await this.facts(taskId))?.agentId;
        const attempt = typeof e.data?.attempt === 'number' ? e.data.attempt + 1 : undefined;
        this.out(
          `      ${this.name(taskId)} RUNNING ${agent ? `on ${agent}` : '(agent not reported yet)'}${attempt && attempt > 1 ? `, attempt ${attempt}` : ''}`,
        );
        return;
      }
      case 'task.retrying':
        if (taskId && !this.opts.json)
          this.out(retryLine(this.name(taskId), e, await this.facts(taskId)));
        return;
      case 'task.completed':
      case 'task.failed':
      case 'task.cancelled': {
        if (!taskId) return;
        const durationMs =
          typeof e.data?.durationMs === 'number'
            ? e.data.durationMs
            : this.startedAt.has(taskId)
              ? at - this.startedAt.get(taskId)!
              : undefined;
        const status = e.type.slice('task.'.length).toUpperCase();
        const facts = status === 'FAILED' && !this.opts.json ? await this.facts(taskId) : undefined;
        this.taskDone(taskId, status, durationMs, facts ?? failureFromEvent(e));
        return;
      }
      case 'workflow.completed':
        this.finish({ status: 'COMPLETED', succeeded: true });
        return;
      case 'workflow.failed':
      case 'workflow.cancelled':
        this.finish({ status: e.type.slice('workflow.'.length).toUpperCase(), succeeded: false });
        return;
      default:
        return;
    }
  }

  private taskDone(
    taskId: string,
    status: string,
    durationMs: number | undefined,
    facts?: TaskFacts,
  ): void {
    if (this.done.has(taskId)) return;
    this.done.add(taskId);
    if (this.opts.json) return;
    const d = formatDuration(durationMs);
    const why = status === 'FAILED' && facts ? failureText(facts) : '';
    this.out(
      `[${this.done.size}/${this.total ?? '?'}] ${this.name(taskId)} ${status}${d ? ` (${d})` : ''}${why ? `: ${why}` : ''}`,
    );
  }

  private schedulePoll(delayMs: number): void {
    clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(() => void this.poll(), delayMs);
  }

  private async poll(): Promise<void> {
    if (!this.workflowId || !this.finished) return;
    try {
      const view = normalizeWorkflow(
        await this.api.get<unknown>(`/v1/workflows/${encodeURIComponent(this.workflowId)}`),
      );
      this.learn(view);
      for (const t of view.tasks) {
        const status = t.status?.toUpperCase();
        if (status && TASK_DONE.has(status)) {
          const d =
            t.startedAt && t.completedAt
              ? Date.parse(t.completedAt) - Date.parse(t.startedAt)
              : undefined;
          this.taskDone(t.id, status, d, t as TaskFacts);
        }
      }
      if (WORKFLOW_DONE.has(view.status)) {
        this.serial(() =>
          this.finish({ status: view.status, succeeded: SUCCESS.has(view.status), workflow: view }),
        );
        return;
      }
    } catch (e) {
      this.warn(`polling ${this.workflowId}: ${(e as Error).message.split('\n')[0]}`);
    }
    this.schedulePoll(this.opts.pollMs);
  }

  private finish(result: FollowResult): void {
    const resolve = this.finished;
    if (!resolve) return;
    this.finished = undefined;
    clearTimeout(this.pollTimer);
    const elapsed = formatDuration(Date.now() - this.t0);
    if (this.opts.json)
      this.out(
        JSON.stringify({ workflowId: this.workflowId, ...result, workflow: result.workflow?.raw }),
      );
    else
      this.out(
        `Workflow ${this.workflowId} ${result.status} after ${elapsed} (${this.done.size}/${this.total ?? '?'} tasks finished)`,
      );
    resolve({ ...result, workflowId: this.workflowId });
  }
}

/** "upstream_error: flaky failure 1/3 (agent a@w1; not retried: retries exhausted)" */
function failureText(f: TaskFacts): string {
  const e = f.error;
  const what = e ? `${e.type ?? 'error'}${e.message ? `: ${e.message}` : ''}` : (f.reason ?? '');
  const extra = [
    f.agentId ? `agent ${f.agentId}` : '',
    f.reason && e && f.reason !== e.type ? `reason ${f.reason}` : '',
  ]
    .filter(Boolean)
    .join('; ');
  return `${what}${extra ? ` (${extra})` : ''}`;
}

/** Events carry only a reason; used when the task record cannot be read. */
function failureFromEvent(e: LiveEvent): TaskFacts | undefined {
  const reason = e.data?.reason;
  return typeof reason === 'string' ? { reason, agentId: e.agentId } : undefined;
}

/** "build RETRYING after upstream_error: flaky (on a@w1); attempt 2 of 4 at 14:02:07 (in 1.9 s)" */
function retryLine(name: string, e: LiveEvent, f: TaskFacts | undefined): string {
  const err = f?.error;
  const why = err
    ? `${err.type ?? 'error'}${err.message ? `: ${err.message}` : ''}`
    : typeof e.data?.reason === 'string'
      ? e.data.reason
      : 'an error';
  const agent = f?.agentId ?? e.agentId;
  let next = '';
  if (f?.retryAt) {
    const at = new Date(f.retryAt);
    const inMs = at.getTime() - Date.now();
    const total = typeof f.retry?.maxRetries === 'number' ? f.retry.maxRetries + 1 : undefined;
    const attempt = typeof f.attempt === 'number' ? f.attempt + 1 : undefined;
    next = `; ${attempt ? `attempt ${attempt}${total ? ` of ${total}` : ''} ` : 'next attempt '}at ${at.toTimeString().slice(0, 8)}${inMs > 0 ? ` (in ${formatDuration(inMs)})` : ''}`;
  }
  return `      ${name} RETRYING after ${why}${agent ? ` (on ${agent})` : ''}${next}`;
}
