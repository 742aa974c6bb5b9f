export enum AgentStatus {
  Available = 'AVAILABLE',
  Busy = 'BUSY',
  Draining = 'DRAINING',
  Offline = 'OFFLINE',
}

/** An agent as the registry holds it (Redis hash `agent:{id}`). */
export interface AgentRecord {
  id: string;
  name: string;
  description: string;
  capabilities: string[];
  status: AgentStatus;
  /** Tasks running now. */
  load: number;
  /** Tasks it may run at once. */
  maxLoad: number;
  /** 0..1, reported by the agent (or lowered by failures). */
  healthScore: number;
  executor?: string;
  model?: string;
  /** The worker process hosting it, if any. */
  workerId?: string;
  registeredAt: string;
  lastHeartbeatAt: string;
  /** When it disappears unless it heartbeats. */
  expiresAt: string;
  metadata: Record<string, string>;
  /** Heartbeat TTL of this agent (the registry default unless it registered with its own). */
  ttlSeconds?: number;
}

export interface FindAgentsQuery {
  capability: string;
  minHealthScore?: number;
  /** load / maxLoad must be below or equal to this. */
  maxLoadRatio?: number;
  status?: AgentStatus[];
  limit?: number;
  /**
   * Leave out the static catalogue entries the control plane registered from AGENTS_DIR
   * (metadata source=file): nobody consumes their task queue.
   */
  excludeStatic?: boolean;
}
