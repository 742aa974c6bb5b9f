import {
  type CallHandler,
  type ExecutionContext,
  Injectable,
  type NestInterceptor,
  UseInterceptors,
  applyDecorators,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { type Observable, tap } from 'rxjs';
import type { Principal } from '../../auth/principal.type';
import type { HumanAction } from './human-action.type';
import { HumanActionsService } from './human-actions.service';

const HUMAN_ACTION_KEY = 'switchyard:human-action';

interface HumanActionMeta {
  action: HumanAction;
  /** Route parameter naming the target (task, workflow or agent id). */
  param?: string;
}

/** Records the action once the handler succeeded; failed or refused requests record nothing. */
@Injectable()
export class HumanActionInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly actions: HumanActionsService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const meta = this.reflector.get<HumanActionMeta | undefined>(
      HUMAN_ACTION_KEY,
      context.getHandler(),
    );
    if (!meta) return next.handle();
    const req = context
      .switchToHttp()
      .getRequest<{ params?: Record<string, string>; principal?: Principal }>();
    return next.handle().pipe(
      tap(() =>
        this.actions.record({
          action: meta.action,
          target: meta.param ? req.params?.[meta.param] : undefined,
          actor: req.principal?.name,
        }),
      ),
    );
  }
}

/**
 * Marks a route as a human action: `@RecordsHumanAction('requeue', 'id')` counts
 * `task_human_actions_total{action="requeue"}` and logs the actor and target after success.
 */
export const RecordsHumanAction = (action: HumanAction, param?: string): MethodDecorator =>
  applyDecorators(
    SetMetadata(HUMAN_ACTION_KEY, { action, param } satisfies HumanActionMeta),
    UseInterceptors(HumanActionInterceptor),
  );
