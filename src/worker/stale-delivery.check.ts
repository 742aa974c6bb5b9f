import { ConfigService } from '../config/config.service';
import { QueueKeys } from '../queue/queue-keys';
import { RedisService } from '../redis/redis.service';

/**
 * Whether a delivered task message is still its task's current attempt (issue 11).
 *
 * A worker killed with unacked task messages gets them back when it restarts (same WORKER_ID, the
 * same agent queue): by then the control plane has usually noticed the loss, failed that attempt
 * and started the next one elsewhere. Running the old message executes the agent a second time —
 * its outcome is fenced by attempt, its side effects are not. So before running a redelivered (or
 * long-queued) message the worker reads two fields of the task record (one HMGET, read-only; a
 * worker already uses Redis for the registry and park marks) and drops the message unless the
 * task is RUNNING at that attempt. (Not the `agent` field: the orchestrator writes it without
 * waiting, so it may still name the previous attempt's agent.)
 */
export type AttemptVerdict =
  | { current: true }
  | { current: false; reason: string }
  /** The record could not be read in time: run it (completion is fenced anyway). */
  | { current: undefined; reason: string };

/** A message older than this is checked even when the broker did not flag it as redelivered. */
export const STALE_CHECK_AGE_MS = 2000;
/** Longest wait for the record; after it the message runs as before. */
const CHECK_TIMEOUT_MS = 2000;

export class StaleDeliveryCheck {
  private readonly keys: QueueKeys;

  constructor(
    private readonly redis: RedisService,
    config: ConfigService,
  ) {
    this.keys = new QueueKeys(redis.key('q', config.queue.name) + ':');
  }

  /** Whether this delivery needs the check: redelivered, or it waited in the queue for a while. */
  static needed(redelivered: boolean, timestamp: string, now = Date.now()): boolean {
    return redelivered || now - Date.parse(timestamp) >= STALE_CHECK_AGE_MS;
  }

  async check(taskId: string, attempt: number): Promise<AttemptVerdict> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const read = this.redis.client.hmget(this.keys.task(taskId), 'status', 'attempt');
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS);
      });
      const [status, current] = await Promise.race([read, timeout]);
      if (status === null) return { current: false, reason: 'the task no longer exists' };
      if (status !== 'RUNNING') return { current: false, reason: `the task is ${status}` };
      if (Number(current ?? 0) !== attempt) {
        return { current: false, reason: `the task runs attempt ${current ?? 0} now` };
      }
      return { current: true };
    } catch (e) {
      return { current: undefined, reason: (e as Error).message };
    } finally {
      clearTimeout(timer);
    }
  }
}
