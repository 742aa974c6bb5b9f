import { SwitchyardMcpClient, SwitchyardToolError } from '../mcp/client/switchyard-mcp.client';
import { TaskStatus } from '../queue/task.types';
import type { DelegationParent } from './agent-runtime';
import { ExecutionFailure } from './executors/execution-error';

/** What `wait_task` returns (the fields the delegation reads). */
interface DelegatedTask {
  status: TaskStatus;
  output?: unknown;
  error?: { message?: string };
  reason?: string;
}

/** The control plane a worker's agents delegate through. */
export interface ControlPlaneEndpoint {
  /** SWITCHYARD_URL of the worker (no trailing slash). */
  url: string;
  /** MCP client name, e.g. `switchyard-worker:<workerId>`. */
  clientName: string;
  /** Bound of a delegation when the caller gives no timeout. */
  defaultTimeoutMs: number;
}

/**
 * `ctx.delegate` of builtin agents: the same path as every other agent: the MCP `delegate`
 * tool of the control plane with this task's credential (so the child is a child of this
 * task, in its tree, under its limits and budget), then `wait_task` long polls; cancelling
 * the parent cancels the child.
 */
export async function delegateThroughControlPlane(
  via: ControlPlaneEndpoint,
  parent: DelegationParent,
  capability: string,
  payload: unknown,
  options: { priority?: number; timeoutMs?: number; signal: AbortSignal },
): Promise<unknown> {
  if (!parent.credential) {
    throw new ExecutionFailure(
      'validation',
      `task ${parent.taskId} came without a task credential, so it cannot delegate (is the control plane older than this worker?)`,
    );
  }
  const client = new SwitchyardMcpClient({
    url: via.url,
    token: parent.credential,
    name: via.clientName,
  });
  try {
    const timeoutMs = options.timeoutMs ?? via.defaultTimeoutMs;
    const child = await client.call<{ taskId: string }>(
      'delegate',
      {
        capability,
        payload: payload ?? {},
        wait: false,
        // The caller's timeout bounds the child's execution too; without one the child keeps
        // its own default.
        ...(options.timeoutMs !== undefined
          ? { timeoutSeconds: Math.max(1, Math.ceil(options.timeoutMs / 1000)) }
          : {}),
        ...(options.priority !== undefined ? { priority: options.priority } : {}),
      },
      { signal: options.signal },
    );
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (options.signal.aborted) {
        await client.call('cancel_task', { taskId: child.taskId }).catch(() => undefined);
        throw new ExecutionFailure('cancelled', `delegation to ${capability} cancelled`);
      }
      const left = deadline - Date.now();
      const t = await client
        .call<DelegatedTask>(
          'wait_task',
          {
            taskId: child.taskId,
            timeoutSeconds: Math.max(0, Math.min(30, Math.ceil(left / 1000))),
          },
          { signal: options.signal },
        )
        .catch((e: unknown) => {
          if (options.signal.aborted) return undefined;
          throw e;
        });
      if (!t) continue;
      if (t.status === TaskStatus.Completed) return t.output;
      if (t.status === TaskStatus.Failed || t.status === TaskStatus.Cancelled) {
        throw new ExecutionFailure(
          'delegation_failed',
          `delegated task ${child.taskId} (${capability}) ended ${t.status}: ${t.error?.message ?? t.reason ?? ''}`,
          { taskId: child.taskId, status: t.status },
        );
      }
      if (Date.now() >= deadline) {
        throw new ExecutionFailure(
          'timeout',
          `delegated task ${child.taskId} (${capability}) did not finish in time`,
          { taskId: child.taskId },
        );
      }
    }
  } catch (e) {
    if (e instanceof SwitchyardToolError) {
      throw new ExecutionFailure(
        'delegation_failed',
        `delegating "${capability}" was refused: ${e.code}: ${e.message}`,
        { code: e.code },
      );
    }
    throw e;
  } finally {
    await client.close();
  }
}
