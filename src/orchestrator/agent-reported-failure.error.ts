import type { TaskError } from '../queue/task.types';

/**
 * The agent answered, with a failure that says something about the agent (crash, bad output,
 * connection...). Thrown inside the breaker so it counts toward opening it; failures that are
 * the task's own fault (validation) are returned instead and do not count.
 */
export class AgentReportedFailure extends Error {
  constructor(readonly error: TaskError) {
    super(error.message);
    this.name = 'AgentReportedFailure';
  }
}
