import { createHash, randomBytes } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import { ConfigService } from '../config/config.service';
import type { TaskRecord } from '../queue/task.types';
import { TERMINAL_STATUSES } from '../queue/task.types';
import type { Principal } from './principal.type';
import { Role } from './role.enum';
import {
  encodeTaskCredential,
  type TaskCredentialClaims,
  verifyTaskCredential,
} from './task-credential.codec';
import { TaskDirectory } from './task-directory';

/**
 * Issues and checks task-scoped credentials: HMAC-signed by the control plane, valid for the
 * task's timeout plus `SWITCHYARD_TASK_CREDENTIAL_TTL_SECONDS`, and only while the task is not
 * terminal (checked on every use). A credential is a bearer secret: it is never logged.
 */
@Injectable()
export class TaskCredentialService {
  private readonly logger = new Logger(TaskCredentialService.name);
  private readonly key: Buffer;

  constructor(
    private readonly config: ConfigService,
    private readonly tasks: TaskDirectory,
  ) {
    const { taskCredentialSecret, adminToken } = config.auth;
    if (taskCredentialSecret) {
      this.key = Buffer.from(taskCredentialSecret, 'utf8');
    } else if (adminToken) {
      this.key = createHash('sha256').update(`switchyard-task-credential\0${adminToken}`).digest();
    } else {
      this.key = randomBytes(32);
      this.logger.warn(
        'Neither SWITCHYARD_TASK_CREDENTIAL_SECRET nor SWITCHYARD_ADMIN_TOKEN is set: task credentials are signed with a random per-process key and only this instance accepts them.',
      );
    }
  }

  /** A credential for the task about to run (called by the orchestrator at dispatch). */
  async issue(task: TaskRecord): Promise<string> {
    const t = task;
    const rootTaskId = t.rootTaskId ?? t.id;
    let workflowId = t.workflowId;
    if (!workflowId && rootTaskId !== t.id)
      workflowId = (await this.tasks.find(rootTaskId))?.workflowId;
    const lifetimeS = Math.ceil(t.timeoutMs / 1000) + this.config.auth.taskCredentialTtlSeconds;
    return this.sign({
      taskId: t.id,
      rootTaskId,
      ...(t.parentTaskId ? { parentTaskId: t.parentTaskId } : {}),
      ...(workflowId ? { workflowId } : {}),
      ...(t.agentId ? { agentId: t.agentId } : {}),
      exp: Math.floor(Date.now() / 1000) + lifetimeS,
    });
  }

  /** Signs claims as they are (tests, and callers that already know the tree). */
  sign(claims: TaskCredentialClaims): string {
    return encodeTaskCredential(this.key, claims);
  }

  /**
   * The principal of a task credential, or a 401 naming why it is refused (bad signature,
   * expired, task gone or terminal).
   */
  async authenticate(token: string): Promise<Principal> {
    const verified = verifyTaskCredential(this.key, token, Date.now());
    if (!verified.ok) {
      const why = verified.reason === 'expired' ? 'has expired' : `is invalid (${verified.reason})`;
      throw new AppException(ErrorCode.Unauthenticated, `Task credential ${why}`);
    }
    const claims = verified.claims;
    const task = await this.tasks.find(claims.taskId);
    if (!task) {
      throw new AppException(
        ErrorCode.Unauthenticated,
        `Task credential refused: task '${claims.taskId}' no longer exists`,
      );
    }
    if (TERMINAL_STATUSES.has(task.status)) {
      throw new AppException(
        ErrorCode.Unauthenticated,
        `Task credential refused: task '${claims.taskId}' is ${task.status}`,
        { taskId: claims.taskId, status: task.status },
      );
    }
    return { name: `task:${claims.taskId}`, role: Role.Task, task: claims };
  }
}
