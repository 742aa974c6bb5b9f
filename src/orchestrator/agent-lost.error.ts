/** The agent running a task vanished (heartbeat expired, deregistered) before it replied. */
export class AgentLostError extends Error {
  constructor(readonly agentId: string) {
    super(`agent ${agentId} disappeared (heartbeat expired or deregistered) before replying`);
    this.name = 'AgentLostError';
  }
}
