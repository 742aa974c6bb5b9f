import { TaskStatus } from './task.types';

/**
 * Every Redis key of the task queue, in one place (BullMQ style). The Lua scripts in commands/
 * build the same names from the base `B` (see task-lib.lua's header); keep both in step.
 */
export class QueueKeys {
  constructor(
    /** Base of every task key, e.g. `sy:q:tasks:`. */
    readonly base: string,
  ) {}

  task(id: string): string {
    return `${this.base}t:${id}`;
  }
  children(id: string): string {
    return `${this.base}t:${id}:children`;
  }
  byStatus(status: string): string {
    return `${this.base}s:${status}`;
  }
  /**
   * Every status index (`s:<STATUS>`, score = creation sequence). Each task is in exactly one of
   * them, so together they are every task in Redis: there is no separate all-tasks index.
   */
  get statusIndexes(): string[] {
    return Object.values(TaskStatus).map((s) => this.byStatus(s));
  }
  get outbox(): string {
    return `${this.base}outbox`;
  }
  get running(): string {
    return `${this.base}running`;
  }
  get delayed(): string {
    return `${this.base}delayed`;
  }
  get dead(): string {
    return `${this.base}dead`;
  }
  /** Terminal task ids by the time they ended (retention). */
  get ended(): string {
    return `${this.base}ended`;
  }
  get suspects(): string {
    return `${this.base}suspects`;
  }
  workflow(id: string): string {
    return `${this.base}w:${id}`;
  }
  workflowTasks(id: string): string {
    return `${this.base}w:${id}:tasks`;
  }
  /** Pub/sub channel: `<id>|<status>` of watched tasks that became terminal. */
  get doneChannel(): string {
    return `${this.base}ch:done`;
  }
  /** Pub/sub channel: ids of RUNNING tasks that were cancelled (their runners abort). */
  get cancelChannel(): string {
    return `${this.base}ch:cancel`;
  }
}
