import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code.enum';

/** Small helpers shared by the parts of the RabbitMQ transport. */

/** The broker gave a mandatory message back: no queue is bound for its routing key. */
export class UnroutableError extends Error {
  constructor(
    readonly exchange: string,
    readonly routingKey: string,
  ) {
    super(`no queue is bound to '${exchange}' for routing key '${routingKey}'`);
    this.name = 'UnroutableError';
  }
}

/**
 * A shared queue exists with other arguments than this process declares, typically a classic
 * priority queue of an install switched to AMQP_QUEUE_TYPE=quorum (or back). RabbitMQ refuses the
 * declaration (406 PRECONDITION_FAILED) on every node, so the transport stops retrying and says
 * what to do instead.
 */
export class QueueTypeMismatchError extends Error {
  constructor(
    readonly queue: string,
    readonly queueType: 'classic' | 'quorum',
    cause: Error,
  ) {
    super(
      `RabbitMQ queue '${queue}' exists with other arguments than AMQP_QUEUE_TYPE=${queueType} declares ` +
        `(${cause.message}). A queue's type and arguments cannot change once declared. Either set ` +
        `AMQP_QUEUE_TYPE back to ${queueType === 'quorum' ? 'classic' : 'quorum'}, or migrate: set a new ` +
        `BUS_NAMESPACE on every control plane and worker (the new queues are declared with the new type; ` +
        `tasks still in the old queues are retried from Redis when their attempt times out), or stop every ` +
        `instance and delete the old queues (rabbitmqctl delete_queue '${queue}'). See docs/HIGH-AVAILABILITY.md.`,
      { cause },
    );
    this.name = 'QueueTypeMismatchError';
  }
}

/** A publish (or a declaration it waits for) was not confirmed before its deadline. */
export class PublishDeadlineError extends Error {
  constructor() {
    super('publish deadline passed');
    this.name = 'PublishDeadlineError';
  }
}

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;

/** Reconnect / re-attach delay: exponential up to 2 s, with ±25 % jitter. */
export const backoff = (attempt: number): number =>
  Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(attempt, 5)) * (0.75 + Math.random() * 0.5);

/** Connections and channels amqplib has closed (a 'close' may arrive before we adopt them). */
export const closedHandles = new WeakSet<object>();

export function busClosedError(): AppException {
  return AppException.unavailable('rabbitmq', 'The message bus is closed');
}

export function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** Runs an ack/nack: if the channel is gone the broker redelivers what was not acked. */
export function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // The channel is gone; the broker redelivers what was not acked.
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function withDeadline<T>(p: Promise<T>, deadline: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new PublishDeadlineError()),
          Math.max(1, deadline - Date.now()),
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves true when every promise settled within `ms`, false otherwise. */
export async function settleWithin(promises: Promise<unknown>[], ms: number): Promise<boolean> {
  if (promises.length === 0) return true;
  let timer: NodeJS.Timeout | undefined;
  const all = Promise.allSettled(promises).then(() => true);
  const timeout = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([all, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A 406 PRECONDITION_FAILED on declare means the queue exists with other arguments: say so. */
export function isPreconditionFailed(e: unknown): boolean {
  return /PRECONDITION_FAILED|406/.test(toError(e).message);
}

export function preconditionOr(e: unknown, what: string): Error {
  const err = toError(e);
  if (/PRECONDITION_FAILED|406/.test(err.message)) {
    return new AppException(
      ErrorCode.Conflict,
      `${what} exists with different arguments; every instance sharing BUS_NAMESPACE needs the same BUS_* and AMQP_QUEUE_TYPE queue settings: ${err.message}`,
      { what },
      { cause: err },
    );
  }
  return err;
}

/** Why RabbitMQ dead-lettered a message (first `x-death` entry), if it did. */
export function deathReason(headers: Record<string, unknown>): string | undefined {
  const deaths = headers['x-death'];
  if (!Array.isArray(deaths) || deaths.length === 0) return undefined;
  const first = deaths[0] as { reason?: unknown };
  return typeof first.reason === 'string' ? first.reason : undefined;
}
