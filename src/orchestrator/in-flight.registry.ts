import { AgentLostError } from './agent-lost.error';

interface Pending {
  taskId: string;
  reject: (error: Error) => void;
}

/**
 * Tasks this instance has sent to agents and is waiting on, by agent. Lets one timer check each
 * busy agent's liveness (instead of one check per task) and fail the waits of an agent that
 * vanished.
 */
export class InFlightRegistry {
  private readonly byAgent = new Map<string, Map<string, Pending>>();

  add(agentId: string, taskId: string, reject: (error: Error) => void): () => void {
    let tasks = this.byAgent.get(agentId);
    if (!tasks) {
      tasks = new Map();
      this.byAgent.set(agentId, tasks);
    }
    tasks.set(taskId, { taskId, reject });
    return () => {
      const t = this.byAgent.get(agentId);
      if (!t) return;
      t.delete(taskId);
      if (t.size === 0) this.byAgent.delete(agentId);
    };
  }

  agents(): string[] {
    return [...this.byAgent.keys()];
  }

  count(): number {
    let n = 0;
    for (const t of this.byAgent.values()) n += t.size;
    return n;
  }

  /** Fails every wait on `agentId` with {@link AgentLostError}; returns the task ids. */
  lose(agentId: string): string[] {
    const tasks = this.byAgent.get(agentId);
    if (!tasks) return [];
    this.byAgent.delete(agentId);
    const error = new AgentLostError(agentId);
    for (const p of tasks.values()) p.reject(error);
    return [...tasks.keys()];
  }
}
