import { Injectable } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import { JobPusher } from './job-pusher.service';
import { ScriptEventsMapper } from './script-events.mapper';
import { asArray, type ScriptResult } from './script-result';

/** What follows a lifecycle script: its READY tasks get their jobs, its events are emitted. */
@Injectable()
export class ScriptEffects {
  constructor(
    private readonly pusher: JobPusher,
    private readonly mapper: ScriptEventsMapper,
  ) {}

  /**
   * `detached`: the caller need not wait for the job push (a dispatch slot applying an outcome:
   * the outbox covers a crash before the push).
   */
  async apply(
    res: ScriptResult,
    opts: { wasRunning?: ReadonlySet<string>; detached?: boolean } = {},
  ): Promise<void> {
    const ready = asArray(res.ready);
    if (ready.length > 0) {
      const pushed = this.pusher.push(ready);
      if (opts.detached) pushed.catch(() => undefined);
      else await pushed;
    }
    this.mapper.emit(asArray(res.events), opts.wasRunning);
  }
}

/** The AppException for a script's `refused` answer (delegation limits, budgets, idempotency). */
export function refusal(res: ScriptResult): AppException | undefined {
  const r = res.refused;
  if (!r) return undefined;
  const code =
    r.code === 'DELEGATION_LIMIT'
      ? ErrorCode.DelegationLimit
      : r.code === 'BUDGET_EXCEEDED'
        ? ErrorCode.BudgetExceeded
        : r.code === 'NOT_FOUND'
          ? ErrorCode.NotFound
          : ErrorCode.Conflict;
  return new AppException(code, r.message, r.details);
}
