import { Injectable } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import { ConfigService } from '../config/config.service';
import type { TaskRecord } from '../queue/task.types';
import type { Principal } from './principal.type';
import { TaskDirectory } from './task-directory';

/** Deepest ancestor walk when checking "is a descendant of" (the queue limits depth far below). */
const MAX_ANCESTOR_WALK = 64;

/**
 * What a task credential may touch: children of its own task, tasks of its own delegation tree,
 * and state under `workflows/<workflowId>/` plus the operator-granted namespaces. Every method
 * is a no-op for other principals (their role checks happen in the guard).
 */
@Injectable()
export class TaskScopePolicy {
  constructor(
    private readonly config: ConfigService,
    private readonly tasks: TaskDirectory,
  ) {}

  /** The parent a new task must have: the credential's own task (another parent is 403). */
  parentFor(principal: Principal, requested: string | undefined): string | undefined {
    const scope = principal.task;
    if (!scope) return requested;
    if (requested !== undefined && requested !== scope.taskId) {
      throw new AppException(
        ErrorCode.Forbidden,
        `This task credential may only create children of task '${scope.taskId}', not of '${requested}'`,
        { taskId: scope.taskId, requested },
      );
    }
    return scope.taskId;
  }

  /** Throws 403 unless the task belongs to the credential's delegation tree (404 if unknown). */
  async assertInTree(principal: Principal, taskId: string): Promise<void> {
    const scope = principal.task;
    if (!scope) return;
    const task = await this.tasks.find(taskId);
    if (!task) throw AppException.notFound('task', taskId);
    if ((task.rootTaskId ?? task.id) !== scope.rootTaskId) throw this.outside(principal, taskId);
  }

  /**
   * Throws 403 unless every dependency is an existing task of the credential's delegation tree:
   * a task gets its dependencies' results as inputs, so a dependency on another tree's task
   * (or on an id someone else may submit later) would hand that tree's result to this one.
   */
  async assertDependenciesInTree(principal: Principal, ids: readonly unknown[]): Promise<void> {
    const scope = principal.task;
    if (!scope) return;
    for (const id of new Set(ids)) {
      if (typeof id !== 'string') continue; // the body's schema refuses it (400)
      const task = await this.tasks.find(id);
      if (!task || (task.rootTaskId ?? task.id) !== scope.rootTaskId) {
        throw new AppException(
          ErrorCode.Forbidden,
          `A task credential may only depend on tasks of its own delegation tree (root '${scope.rootTaskId}'); '${id}' is not one`,
          { field: 'dependsOn', requested: id, rootTaskId: scope.rootTaskId },
        );
      }
    }
  }

  /** Throws 403 unless the task is a strict descendant of the credential's task. */
  async assertDescendant(principal: Principal, taskId: string): Promise<void> {
    const scope = principal.task;
    if (!scope) return;
    let task: TaskRecord | undefined = await this.tasks.find(taskId);
    if (!task) throw AppException.notFound('task', taskId);
    if ((task.rootTaskId ?? task.id) !== scope.rootTaskId) throw this.outside(principal, taskId);
    for (let i = 0; i < MAX_ANCESTOR_WALK && task?.parentTaskId; i++) {
      if (task.parentTaskId === scope.taskId) return;
      task = await this.tasks.find(task.parentTaskId);
    }
    throw new AppException(
      ErrorCode.Forbidden,
      `This task credential may only cancel descendants of task '${scope.taskId}'`,
      { taskId: scope.taskId, requested: taskId },
    );
  }

  /** State keys (or list prefixes) a task credential may use. */
  allowedStatePrefixes(principal: Principal): string[] {
    const scope = principal.task;
    if (!scope) return [''];
    const granted = this.config.auth.taskStateNamespaces.map((n) =>
      n.endsWith('/') ? n : `${n}/`,
    );
    return scope.workflowId ? [`workflows/${scope.workflowId}/`, ...granted] : granted;
  }

  /** Throws 403 unless a task credential may read/write this state key (or list this prefix). */
  assertStateKey(principal: Principal, keyOrPrefix: string): void {
    if (!principal.task) return;
    const allowed = this.allowedStatePrefixes(principal);
    if (allowed.some((p) => keyOrPrefix.startsWith(p))) return;
    throw new AppException(
      ErrorCode.Forbidden,
      allowed.length > 0
        ? `This task credential may only use state under ${allowed.map((p) => `'${p}'`).join(', ')}, not '${keyOrPrefix}'`
        : `This task credential may not use state: its task has no workflow and no namespace is granted (SWITCHYARD_TASK_STATE_NAMESPACES)`,
      { key: keyOrPrefix, allowed },
    );
  }

  private outside(principal: Principal, taskId: string): AppException {
    return new AppException(
      ErrorCode.Forbidden,
      `Task '${taskId}' is not in the delegation tree of this task credential (root '${principal.task!.rootTaskId}')`,
      { requested: taskId, rootTaskId: principal.task!.rootTaskId },
    );
  }
}
