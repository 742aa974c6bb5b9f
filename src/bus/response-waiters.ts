import type { AgentMessage } from './agent-message.schema';
import { BusTimeoutError } from './bus-timeout.error';

interface Waiter {
  resolve(message: AgentMessage): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
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

  wait(correlationId: string, timeoutMs: number): Promise<AgentMessage> {
    const buffered = this.early.get(correlationId);
    if (buffered) {
      this.early.delete(correlationId);
      return Promise.resolve(buffered.message);
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
      };
      const list = this.waiters.get(correlationId);
      if (list) list.push(waiter);
      else this.waiters.set(correlationId, [waiter]);
    });
  }

  /** Hands a response to its waiters. Returns false when nobody waited (kept briefly for a late waiter). */
  deliver(message: AgentMessage): boolean {
    const list = this.waiters.get(message.correlationId);
    if (!list || list.length === 0) {
      this.keepEarly(message);
      return false;
    }
    this.waiters.delete(message.correlationId);
    for (const w of list) {
      clearTimeout(w.timer);
      w.resolve(message);
    }
    return true;
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
