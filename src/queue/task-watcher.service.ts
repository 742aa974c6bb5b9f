import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type Redis from 'ioredis';
import { TaskStore } from './task-store.repository';
import { TaskQueries } from './task-queries.service';
import { TERMINAL_STATUSES, type TaskRecord, type TaskStatus } from './task.types';

type CancelListener = (taskId: string, attempt: number) => void;

/**
 * Cross-instance signals of the queue over Redis pub/sub, independent of the live feed:
 * - ch:done   a watched task ended: wakes `waitForTerminal` callers on every control plane;
 * - ch:cancel a RUNNING task was cancelled: its runner aborts, wherever it runs.
 * The scripts publish inside the same atomic step that changes the record, so a signal is never
 * seen before the state it announces.
 */
@Injectable()
export class TaskWatcher implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(TaskWatcher.name);
  private sub?: Redis;
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly cancelListeners = new Set<CancelListener>();

  constructor(
    private readonly store: TaskStore,
    private readonly queries: TaskQueries,
  ) {}

  onModuleInit(): void {
    const sub = this.store.subscriber();
    this.sub = sub;
    const { doneChannel, cancelChannel } = this.store.keys;
    sub.on('message', (channel: string, message: string) => {
      const at = message.lastIndexOf('|');
      const id = message.slice(0, at);
      if (channel === doneChannel) this.wake(id);
      else if (channel === cancelChannel) {
        const attempt = Number(message.slice(at + 1));
        for (const l of this.cancelListeners) l(id, attempt);
      }
    });
    // Re-subscribed by ioredis after a reconnect; a wait that missed a signal meanwhile
    // re-reads the record when it times out, so nothing waits forever.
    // Not awaited: while Redis is down the app must still boot (and answer 503).
    sub.subscribe(doneChannel, cancelChannel).catch((e: Error) => {
      this.logger.warn(`queue channels not subscribed yet (${e.message}); ioredis retries`);
    });
  }

  onModuleDestroy(): void {
    for (const set of this.waiters.values()) for (const w of set) w();
    this.waiters.clear();
    // Nothing to flush on a subscriber; quit() would wait forever while Redis is down.
    this.sub?.disconnect();
  }

  /** Listens for cancellations of RUNNING tasks (every instance hears every one). */
  onCancel(listener: CancelListener): () => void {
    this.cancelListeners.add(listener);
    return () => this.cancelListeners.delete(listener);
  }

  /**
   * Resolves with the task once it is terminal, or with its current record after `timeoutMs`
   * (or when `signal` aborts). Event-driven: no polling while it waits.
   */
  async waitForTerminal(id: string, timeoutMs: number, signal?: AbortSignal): Promise<TaskRecord> {
    let woken!: () => void;
    const wakeUp = new Promise<void>((r) => (woken = r));
    let set = this.waiters.get(id);
    if (!set) this.waiters.set(id, (set = new Set()));
    set.add(woken);
    try {
      await this.store.watch(id);
      const now = await this.queries.getTask(id);
      if (isTerminal(now.status)) return now;
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => woken();
      signal?.addEventListener('abort', onAbort, { once: true });
      await Promise.race([
        wakeUp,
        new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, timeoutMs)))),
      ]);
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      return await this.queries.getTask(id);
    } finally {
      set.delete(woken);
      if (set.size === 0) this.waiters.delete(id);
    }
  }

  private wake(id: string): void {
    const set = this.waiters.get(id);
    if (set) for (const w of set) w();
  }
}

const isTerminal = (s: TaskStatus): boolean => TERMINAL_STATUSES.has(s);
