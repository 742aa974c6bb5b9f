import { Injectable } from '@nestjs/common';
import {
  TASK_PROGRESS_MAX_BYTES,
  TASK_PROGRESS_MAX_STEPS,
  type TaskProgressStep,
} from '../bus/task-progress.schema';
import { RedisService } from '../redis/redis.service';

/** A stored step: the attempt it belongs to, plus the step. */
export type StoredProgressStep = TaskProgressStep & { attempt: number };

/** Largest stored step: TASK_PROGRESS_MAX_STEPS of them fit in TASK_PROGRESS_MAX_BYTES. */
const MAX_STEP_BYTES = Math.floor(TASK_PROGRESS_MAX_BYTES / TASK_PROGRESS_MAX_STEPS);
/** Scores order steps by attempt, then seq. */
const SEQ_SPACE = 1_000_000;

/**
 * The last steps of each task (Redis sorted set `task_progress:<taskId>`, scored by attempt and
 * seq, so a redelivered batch is stored once and order holds across instances). Bounded: the
 * newest {@link TASK_PROGRESS_MAX_STEPS} steps, each at most 1/200 of 256 KiB, expiring with
 * the task's retention.
 */
@Injectable()
export class TaskProgressStore {
  constructor(private readonly redis: RedisService) {}

  private key(taskId: string): string {
    return this.redis.key('task_progress', taskId);
  }

  /** Adds steps of one attempt; keeps the newest ones; resets the expiry. */
  async append(
    taskId: string,
    attempt: number,
    steps: readonly TaskProgressStep[],
    ttlSeconds: number,
  ): Promise<void> {
    if (steps.length === 0) return;
    const key = this.key(taskId);
    const args: (string | number)[] = [];
    for (const step of steps) {
      args.push(attempt * SEQ_SPACE + Math.min(step.seq, SEQ_SPACE - 1), fit({ ...step, attempt }));
    }
    await this.redis.client
      .multi()
      .zadd(key, ...args)
      .zremrangebyrank(key, 0, -(TASK_PROGRESS_MAX_STEPS + 1))
      .expire(key, ttlSeconds)
      .exec();
  }

  /** Steps after (`attempt`, `seq`) — all kept steps when not given — oldest first. */
  async list(
    taskId: string,
    after?: { attempt: number; seq: number },
  ): Promise<StoredProgressStep[]> {
    const min = after ? `(${after.attempt * SEQ_SPACE + after.seq}` : '-inf';
    const raw = await this.redis.client.zrangebyscore(this.key(taskId), min, '+inf');
    return raw.map((r) => JSON.parse(r) as StoredProgressStep);
  }

  async delete(taskId: string): Promise<void> {
    await this.redis.client.del(this.key(taskId));
  }
}

/** JSON of a step, cut down to MAX_STEP_BYTES (its data first, then its summary). */
function fit(step: StoredProgressStep): string {
  let json = JSON.stringify(step);
  if (Buffer.byteLength(json) <= MAX_STEP_BYTES) return json;
  const { data: _dropped, ...rest } = step;
  void _dropped;
  json = JSON.stringify(rest);
  const over = Buffer.byteLength(json) - MAX_STEP_BYTES;
  if (over <= 0) return json;
  return JSON.stringify({
    ...rest,
    summary: `${rest.summary.slice(0, Math.max(0, rest.summary.length - over - 3))}…`,
  });
}
