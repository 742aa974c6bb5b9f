import type { AgentMessage } from './agent-message.schema';
import { BusTimeoutError } from './bus-timeout.error';

/** Who may answer a request: the agent it went to, for the attempt it carried. */
export interface ReplyExpectation {
  fromAgent: string;
  attempt: number;
}

/**
 * What became of a reply: handed to its waiter(s), kept for a late waiter (nobody waited yet),
 * or dropped because it did not come from the agent the request went to, or carried another
 * attempt (a forged or misrouted reply; counted, never delivered).
 */
export type ReplyOutcome = 'delivered' | 'no_waiter' | 'wrong_sender' | 'wrong_attempt';

interface Waiter {
  resolve(message: AgentMessage): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
  expect?: ReplyExpectation;
}

/**
 * Pending `waitForResponse` calls by correlation id, plus a small bounded buffer of responses that
 * arrived before anyone waited for them (so `sendTask` + `waitForResponse` cannot race).
 * Shared by both transports.
 */
export class ResponseWaiters {
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly early = new Map<string, { message: AgentMessage; at: number }>();

  constructor(
    private readonly earlyLimit = 1000,
    private readonly earlyTtlMs = 60_000,
  ) {}

  /**
   * Waits for the reply with this correlation id. With `expect`, only a reply from that agent for
   * that attempt resolves it; others are dropped (see {@link deliver}) and the wait goes on.
   */
  wait(correlationId: string, timeoutMs: number, expect?: ReplyExpectation): Promise<AgentMessage> {
    const buffered = this.early.get(correlationId);
    if (buffered) {
      this.early.delete(correlationId);
      if (mismatch(buffered.message, expect) === undefined) {
        return Promise.resolve(buffered.message);
      }
    }
    return new Promise<AgentMessage>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.remove(correlationId, waiter);
          reject(
            new BusTimeoutError(
              `No response for correlation id '${correlationId}' within ${timeoutMs} ms`,
              correlationId,
              timeoutMs,
            ),
          );
        }, timeoutMs),
        expect,
      };
      const list = this.waiters.get(correlationId);
      if (list) list.push(waiter);
      else this.waiters.set(correlationId, [waiter]);
    });
  }

  /**
   * Hands a response to the waiters of its correlation id that accept it (see
   * {@link ReplyExpectation}). When nobody waited it is kept briefly for a late waiter; when every
   * waiter expected another sender or attempt it is dropped and they keep waiting.
   */
  deliver(message: AgentMessage): ReplyOutcome {
    const list = this.waiters.get(message.correlationId);
    if (!list || list.length === 0) {
      this.keepEarly(message);
      return 'no_waiter';
    }
    let refused: ReplyOutcome | undefined;
    const rest: Waiter[] = [];
    for (const w of list) {
      const why = mismatch(message, w.expect);
      if (why !== undefined) {
        refused = why;
        rest.push(w);
        continue;
      }
      clearTimeout(w.timer);
      w.resolve(message);
    }
    if (rest.length === list.length) return refused ?? 'wrong_sender';
    if (rest.length === 0) this.waiters.delete(message.correlationId);
    else this.waiters.set(message.correlationId, rest);
    return 'delivered';
  }

  get pending(): number {
    let n = 0;
    for (const list of this.waiters.values()) n += list.length;
    return n;
  }

  rejectAll(error: Error): void {
    for (const list of this.waiters.values()) {
      for (const w of list) {
        clearTimeout(w.timer);
        w.reject(error);
      }
    }
    this.waiters.clear();
    this.early.clear();
  }

  private remove(correlationId: string, waiter: Waiter): void {
    const list = this.waiters.get(correlationId);
    if (!list) return;
    const rest = list.filter((w) => w !== waiter);
    if (rest.length === 0) this.waiters.delete(correlationId);
    else this.waiters.set(correlationId, rest);
  }

  private keepEarly(message: AgentMessage): void {
    const now = Date.now();
    for (const [id, entry] of this.early) {
      if (this.early.size < this.earlyLimit && now - entry.at < this.earlyTtlMs) break;
      this.early.delete(id);
    }
    this.early.set(message.correlationId, { message, at: now });
  }
}

function mismatch(
  message: AgentMessage,
  expect: ReplyExpectation | undefined,
): 'wrong_sender' | 'wrong_attempt' | undefined {
  if (!expect) return undefined;
  if (message.fromAgent !== expect.fromAgent) return 'wrong_sender';
  if (message.attempt !== expect.attempt) return 'wrong_attempt';
  return undefined;
}
