import { AgentStatus } from '../discovery/agent-record.type';

/** Why an agent is unavailable, and until when. */
export interface AgentUnavailability {
  until: number;
  reason: string;
}

/**
 * Which of a worker's agents hit a usage/rate limit and until when (a `rate_limited` failure's
 * `details.retryAt`). Such an agent heartbeats as OFFLINE — discovery stops offering it for its
 * capabilities — until the time passes; the others keep their status.
 */
export class AgentAvailability {
  private readonly limited = new Map<string, AgentUnavailability>();

  /**
   * Records a `rate_limited` failure of `agent`. Returns the new unavailability when it starts or
   * extends one, undefined when `details` has no future `retryAt` or an equal or later one is known.
   */
  markLimited(
    agent: string,
    reason: string,
    details: unknown,
    now = Date.now(),
  ): AgentUnavailability | undefined {
    const retryAt = (details as { retryAt?: unknown } | null | undefined)?.retryAt;
    const until = typeof retryAt === 'string' ? Date.parse(retryAt) : NaN;
    if (!Number.isFinite(until) || until <= now) return undefined;
    const known = this.limited.get(agent);
    if (known && known.until >= until) return undefined;
    const entry = { until, reason };
    this.limited.set(agent, entry);
    return entry;
  }

  /** The agent's unavailability now, if any (an expired one is forgotten and reported as `ended`). */
  check(agent: string, now = Date.now()): { unavailable?: AgentUnavailability; ended?: boolean } {
    const entry = this.limited.get(agent);
    if (!entry) return {};
    if (entry.until <= now) {
      this.limited.delete(agent);
      return { ended: true };
    }
    return { unavailable: entry };
  }

  /** The status to heartbeat: OFFLINE while limited, else BUSY at capacity, else AVAILABLE. */
  status(agent: string, load: number, maxConcurrency: number, now = Date.now()): AgentStatus {
    if (this.limited.has(agent) && this.limited.get(agent)!.until > now) return AgentStatus.Offline;
    return load >= maxConcurrency ? AgentStatus.Busy : AgentStatus.Available;
  }
}
