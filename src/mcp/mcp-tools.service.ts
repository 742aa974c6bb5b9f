import { Injectable, Logger } from '@nestjs/common';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Principal } from '../auth/principal.type';
import { Role } from '../auth/role.enum';
import { TaskScopePolicy } from '../auth/task-scope.policy';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import { DiscoveryService } from '../discovery/discovery.service';
import { EventsService } from '../events/events.service';
import { TaskQueueService } from '../queue/task-queue.service';
import type { CreateTaskInput } from '../queue/task.schemas';
import { TERMINAL_STATUSES, type TaskRecord, TaskStatus } from '../queue/task.types';
import { StateService } from '../state/state.service';
import {
  type DelegateInput,
  READ_ONLY_TOOLS,
  type ToolInput,
  type ToolName,
  toolInputSchemas,
} from './mcp-tool.schemas';
import { ParkedTasksStore } from './parked-tasks.store';
import { toolError, toolOk } from './tool-result.util';

/** A waiting tool call tells the client it is alive at least this often (issue: ≤ 15 s). */
export const PROGRESS_INTERVAL_MS = 10_000;
/** How long `delegate` waits when the call gives no timeoutSeconds. */
const DEFAULT_DELEGATE_WAIT_MS = 3_600_000;

/** What a tool call gets from its transport. */
export interface ToolCallContext {
  /** Aborts when the client goes away. */
  signal: AbortSignal;
  /** Sends a progress notification (keeps clients with idle timeouts waiting). */
  progress(progress: number, total: number | undefined, message: string): Promise<void>;
}

type Handler<N extends ToolName> = (
  principal: Principal,
  input: ToolInput<N>,
  ctx: ToolCallContext,
) => Promise<CallToolResult>;

/**
 * The MCP tools, transport-free: validates input with the REST schemas, checks the caller's
 * role and (for task credentials) its tree scope, runs the tool on the same services REST uses,
 * and turns every error into a tool error with the REST code and message.
 */
@Injectable()
export class McpToolsService {
  private readonly logger = new Logger(McpToolsService.name);
  private readonly handlers: { [N in ToolName]: Handler<N> } = {
    find_agents: (_p, i) => this.findAgents(i),
    list_capabilities: async () =>
      toolOk({ capabilities: await this.discovery.listCapabilities() }),
    delegate: (p, i, c) => this.delegate(p, i, c),
    delegate_many: (p, i, c) => this.delegateMany(p, i, c),
    get_task: async (p, i) => {
      await this.scope.assertInTree(p, i.taskId);
      return toolOk(taskView(await this.queue.getTask(i.taskId)));
    },
    wait_task: async (p, i, c) => {
      await this.scope.assertInTree(p, i.taskId);
      const task = await this.waitParked(p, [i.taskId], i.timeoutSeconds * 1000, c);
      return toolOk(taskView(task[0]));
    },
    cancel_task: async (p, i) => {
      await this.scope.assertDescendant(p, i.taskId);
      return toolOk(taskView(await this.queue.cancel(i.taskId, 'user')));
    },
    state_get: async (p, i) => {
      this.scope.assertStateKey(p, i.key);
      return toolOk(docView(await this.state.get(i.key)));
    },
    state_put: async (p, i) => {
      this.scope.assertStateKey(p, i.key);
      const saved = await this.state.put(i.key, i.value, i.ifMatch, p.name);
      return toolOk({ ...docView(saved.doc), stored: saved.stored });
    },
    state_patch: async (p, i) => {
      this.scope.assertStateKey(p, i.key);
      if (i.patch === undefined) {
        throw AppException.validation('Tool input validation failed', [
          { field: 'patch', message: 'patch is required' },
        ]);
      }
      const saved = await this.state.patch(i.key, i.patch, i.ifMatch, p.name);
      return toolOk({ ...docView(saved.doc), stored: saved.stored });
    },
    state_list: async (p, i) => {
      this.scope.assertStateKey(p, i.prefix);
      return toolOk(await this.state.list(i.prefix, i.cursor, i.limit));
    },
    report_progress: (p, i) => this.reportProgress(p, i),
  };

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly queue: TaskQueueService,
    private readonly state: StateService,
    private readonly events: EventsService,
    private readonly scope: TaskScopePolicy,
    private readonly parked: ParkedTasksStore,
  ) {}

  /** Runs one tool call; never throws (errors are tool results). */
  async call(
    principal: Principal,
    name: string,
    args: unknown,
    ctx: ToolCallContext,
  ): Promise<CallToolResult> {
    try {
      if (!(name in toolInputSchemas)) {
        throw new AppException(ErrorCode.NotFound, `Unknown tool '${name}'`, {
          tools: Object.keys(toolInputSchemas),
        });
      }
      const tool = name as ToolName;
      this.authorize(principal, tool);
      const parsed = toolInputSchemas[tool].safeParse(args ?? {});
      if (!parsed.success) throw parsed.error;
      const handler = this.handlers[tool] as Handler<ToolName>;
      return await handler(principal, parsed.data, ctx);
    } catch (err) {
      const { result, unexpected } = toolError(err);
      if (unexpected)
        this.logger.error(`tool ${name} failed: ${(err as Error).stack ?? String(err)}`);
      return result;
    }
  }

  private authorize(principal: Principal, tool: ToolName): void {
    const role = principal.role;
    const allowed =
      tool === 'report_progress'
        ? role === Role.Task
        : role === Role.Admin ||
          role === Role.Operator ||
          role === Role.Task ||
          (role === Role.Viewer && READ_ONLY_TOOLS.has(tool));
    if (!allowed) {
      throw new AppException(
        ErrorCode.Forbidden,
        tool === 'report_progress'
          ? 'report_progress needs a task credential (it reports on the calling task)'
          : `Role '${role}' may not call ${tool}`,
        { role, tool },
      );
    }
  }

  private async findAgents(i: ToolInput<'find_agents'>): Promise<CallToolResult> {
    const agents = await this.discovery.find(i);
    return toolOk({
      agents: agents.map((a) => ({
        id: a.id,
        name: a.name,
        description: a.description,
        capabilities: a.capabilities,
        status: a.status,
        load: a.load,
        maxLoad: a.maxLoad,
        healthScore: a.healthScore,
      })),
    });
  }

  private async submitChild(principal: Principal, input: DelegateInput): Promise<TaskRecord> {
    const parentTaskId = this.scope.parentFor(principal, undefined);
    const createInput: CreateTaskInput & { parentTaskId?: string } = {
      capability: input.capability,
      payload: childPayload(input),
      ...(input.priority !== undefined ? { priority: input.priority } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.budget !== undefined ? { budget: input.budget } : {}),
      ...(input.timeoutSeconds !== undefined ? { timeoutMs: input.timeoutSeconds * 1000 } : {}),
    };
    if (parentTaskId) createInput.parentTaskId = parentTaskId;
    const { task } = await this.queue.enqueue(createInput);
    return task;
  }

  private async delegate(
    principal: Principal,
    input: DelegateInput,
    ctx: ToolCallContext,
  ): Promise<CallToolResult> {
    const task = await this.submitChild(principal, input);
    if (!input.wait) return toolOk({ taskId: task.id, status: task.status });
    const waitMs = input.timeoutSeconds ? input.timeoutSeconds * 1000 : DEFAULT_DELEGATE_WAIT_MS;
    const [done] = await this.waitParked(principal, [task.id], waitMs, ctx);
    return outcome(done);
  }

  private async delegateMany(
    principal: Principal,
    input: ToolInput<'delegate_many'>,
    ctx: ToolCallContext,
  ): Promise<CallToolResult> {
    const tasks: TaskRecord[] = [];
    for (const t of input.tasks)
      tasks.push(await this.submitChild(principal, { ...t, wait: true }));
    const waitMs = Math.max(
      ...input.tasks.map((t) =>
        t.timeoutSeconds ? t.timeoutSeconds * 1000 : DEFAULT_DELEGATE_WAIT_MS,
      ),
    );
    const done = await this.waitParked(
      principal,
      tasks.map((t) => t.id),
      waitMs,
      ctx,
    );
    const results = done.map(taskView);
    const failed = done.filter((t) => t.status !== TaskStatus.Completed).length;
    return { ...toolOk({ results, failed }), ...(failed > 0 ? { isError: true } : {}) };
  }

  /**
   * Waits until every task is terminal (or `timeoutMs` passes), sending a progress notification
   * every {@link PROGRESS_INTERVAL_MS}. While a task credential's task waits it is parked: its
   * registry slot is given back so its children can run on the same agent.
   */
  private async waitParked(
    principal: Principal,
    taskIds: string[],
    timeoutMs: number,
    ctx: ToolCallContext,
  ): Promise<TaskRecord[]> {
    const waiter = principal.task;
    if (waiter) {
      const first = await this.parked.park(waiter.taskId);
      // Give the slot back at once (the heartbeat keeps it given back while parked).
      if (first && waiter.agentId) {
        await this.discovery.release(waiter.agentId).catch(() => undefined);
      }
    }
    try {
      const deadline = Date.now() + timeoutMs;
      const results = new Map<string, TaskRecord>();
      for (;;) {
        const pending = taskIds.filter((id) => !results.has(id));
        const slice = Math.max(0, Math.min(PROGRESS_INTERVAL_MS, deadline - Date.now()));
        const got = await Promise.all(
          pending.map((id) => this.queue.waitForTerminal(id, slice, ctx.signal)),
        );
        for (const t of got) if (TERMINAL_STATUSES.has(t.status)) results.set(t.id, t);
        if (results.size === taskIds.length || Date.now() >= deadline || ctx.signal.aborted) {
          return taskIds.map((id, i) => results.get(id) ?? got[pending.indexOf(id)] ?? got[i]);
        }
        if (waiter) await this.parked.refresh(waiter.taskId).catch(() => undefined);
        await ctx
          .progress(
            results.size,
            taskIds.length,
            `waiting for ${taskIds.length - results.size} of ${taskIds.length} task(s)`,
          )
          .catch(() => undefined);
      }
    } finally {
      if (waiter) await this.parked.unpark(waiter.taskId).catch(() => undefined);
    }
  }

  private async reportProgress(
    principal: Principal,
    input: ToolInput<'report_progress'>,
  ): Promise<CallToolResult> {
    const scope = principal.task!;
    this.events.emit('task.progress', {
      taskId: scope.taskId,
      ...(scope.workflowId ? { workflowId: scope.workflowId } : {}),
      ...(scope.agentId ? { agentId: scope.agentId } : {}),
      data: {
        message: input.message,
        ...(input.percent !== undefined ? { percent: input.percent } : {}),
      },
    });
    return toolOk({ ok: true });
  }
}

/** `prompt` travels as `payload.prompt` (merged into an object payload). */
function childPayload(input: DelegateInput): unknown {
  if (input.prompt === undefined) return input.payload ?? {};
  const p = input.payload;
  if (p === undefined) return { prompt: input.prompt };
  if (typeof p === 'object' && p !== null && !Array.isArray(p))
    return { ...p, prompt: input.prompt };
  return { prompt: input.prompt, payload: p };
}

function taskView(task: TaskRecord): Record<string, unknown> {
  const t = task as TaskRecord & Record<string, unknown>;
  return {
    taskId: t.id,
    capability: t.capability,
    status: t.status,
    ...(t.agentId ? { agentId: t.agentId } : {}),
    ...pick(t, ['parentTaskId', 'rootTaskId', 'depth', 'workflowId', 'reason', 'cost']),
    ...(t.result !== undefined ? { output: t.result } : {}),
    ...(t.error ? { error: t.error } : {}),
    createdAt: t.createdAt,
    ...pick(t, ['startedAt', 'completedAt']),
  };
}

function pick(obj: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => obj[k] !== undefined).map((k) => [k, obj[k]]));
}

/** A delegated child's outcome: its output when it completed; a tool error otherwise. */
function outcome(task: TaskRecord): CallToolResult {
  const view = taskView(task);
  if (task.status === TaskStatus.Completed) return toolOk(view);
  if (!TERMINAL_STATUSES.has(task.status)) {
    return toolError(
      new AppException(
        ErrorCode.Timeout,
        `Task '${task.id}' is still ${task.status}; wait for it with wait_task or cancel it with cancel_task`,
        { taskId: task.id, status: task.status },
      ),
    ).result;
  }
  return { ...toolOk(view), isError: true };
}

function docView(doc: {
  key: string;
  version: number;
  value: unknown;
  updatedAt: string;
  updatedBy: string;
}): Record<string, unknown> {
  return {
    key: doc.key,
    version: doc.version,
    value: doc.value,
    updatedAt: doc.updatedAt,
    updatedBy: doc.updatedBy,
  };
}

/** JSON Schema of a tool's input, as clients see it in tools/list. */
export function toolJsonSchema(name: ToolName): Record<string, unknown> {
  const schema = z.toJSONSchema(toolInputSchemas[name], { io: 'input', unrepresentable: 'any' });
  delete schema.$schema;
  return schema;
}
