import type { AgentRecord } from '../discovery/agent-record.type';
import type { DiscoveryService } from '../discovery/discovery.service';
import { type DispatchGate, selectAgent } from '../resilience/select-agent.util';

/** How many live candidates one read of the registry returns. */
const CANDIDATES = 25;
/** How long past its expiry the candidate cache may still name an agent to try (a hint). */
const PICK_STALE_MS = 1000;

export interface AgentPickerOptions {
  /** ORCHESTRATOR_CANDIDATE_CACHE_MS: how long a capability's candidate list is reused (0: never). */
  cacheMs: number;
  /** ORCHESTRATOR_MAX_LOAD_RATIO: agents at or above this share of their slots are not offered. */
  maxLoadRatio: number;
}

/**
 * Which agent a task goes to, for one control-plane instance: the live candidates of each
 * capability (cached briefly, one registry read at a time per capability) ordered by load,
 * counting the slots this instance reserved since the list was read. Only a choice: the Lua
 * script that takes the slot is authoritative (it refuses a full or gone agent).
 */
export class AgentPicker {
  /** Slots this instance holds per agent (reserved and not yet released). */
  private readonly reserved = new Map<string, number>();
  private readonly cache = new Map<string, { agents: AgentRecord[]; until: number }>();
  private readonly reads = new Map<string, Promise<AgentRecord[]>>();
  /** Capabilities whose candidate list is being read again for {@link pick}. */
  private readonly refreshing = new Set<string>();

  constructor(
    private readonly discovery: Pick<DiscoveryService, 'find'>,
    private readonly breakers: DispatchGate,
    private readonly options: AgentPickerOptions,
  ) {}

  /**
   * The agent a task of `capability` would go to, from the cached candidates only (no Redis
   * read): least loaded counting this instance's own reservations, breaker permitting. Only a
   * hint — the start script's reservation is authoritative, and a refused one falls back to the
   * dispatcher's own choice — so the list may be up to {@link PICK_STALE_MS} past its expiry
   * (it is refreshed in the background). Counted as reserved here; the caller calls
   * {@link unreserve} when the start took no slot on it.
   */
  pick(capability: string): string | undefined {
    const cached = this.cache.get(capability);
    const now = Date.now();
    // Expired or cold (e.g. the first jobs of a burst after a pause): read it again in the
    // background, once, so the jobs right behind these pick from it.
    if (!cached || cached.until <= now) this.refresh(capability);
    if (!cached || cached.until + PICK_STALE_MS <= now) return undefined;
    const agent = selectAgent(this.byLocalLoad(cached.agents), this.breakers);
    if (!agent) return undefined;
    this.reserve(agent.id);
    return agent.id;
  }

  /** Counts a slot this instance took on `agentId`. */
  reserve(agentId: string): void {
    this.reserved.set(agentId, (this.reserved.get(agentId) ?? 0) + 1);
  }

  /** The slot on `agentId` was given back (or never taken). */
  unreserve(agentId: string): void {
    const left = (this.reserved.get(agentId) ?? 1) - 1;
    if (left > 0) this.reserved.set(agentId, left);
    else this.reserved.delete(agentId);
  }

  /** The cached record of `agentId` among `capability`'s candidates, if any. */
  cached(capability: string, agentId: string): AgentRecord | undefined {
    return this.cache.get(capability)?.agents.find((a) => a.id === agentId);
  }

  /**
   * Candidates least loaded first, counting the slots this instance reserved since the list was
   * read, so a burst of dispatches spreads over the agents instead of filling the first one.
   */
  byLocalLoad(candidates: AgentRecord[]): AgentRecord[] {
    if (candidates.length < 2 || this.reserved.size === 0) return candidates;
    const ratio = (a: AgentRecord) =>
      (a.load + (this.reserved.get(a.id) ?? 0)) / Math.max(1, a.maxLoad);
    return [...candidates].sort((a, b) => ratio(a) - ratio(b) || a.id.localeCompare(b.id));
  }

  /**
   * Live agents with the capability, least loaded first. Cached for a few milliseconds per
   * capability: under load every dispatch would otherwise read the same list; the slot
   * reservation that follows is atomic and authoritative, so a stale order costs nothing.
   */
  async candidates(capability: string, fresh: boolean): Promise<AgentRecord[]> {
    const ttl = this.options.cacheMs;
    const cached = this.cache.get(capability);
    if (!fresh && cached && cached.until > Date.now()) return cached.agents;
    if (fresh || ttl === 0) return this.read(capability, ttl);
    // One read per capability at a time: a burst of dispatches on a cold cache shares it (each
    // used to read the same list itself, hundreds at once).
    let reading = this.reads.get(capability);
    if (!reading) {
      reading = this.read(capability, ttl).finally(() => this.reads.delete(capability));
      this.reads.set(capability, reading);
    }
    return reading;
  }

  private refresh(capability: string): void {
    if (this.refreshing.has(capability)) return;
    this.refreshing.add(capability);
    void this.candidates(capability, true)
      .catch(() => undefined)
      .finally(() => this.refreshing.delete(capability));
  }

  private async read(capability: string, ttl: number): Promise<AgentRecord[]> {
    const ratio = this.options.maxLoadRatio;
    const agents = await this.discovery.find({
      capability,
      limit: CANDIDATES,
      // Catalogue entries from AGENTS_DIR have nobody consuming their queue; only live hosts run tasks.
      excludeStatic: true,
      ...(ratio < 1 ? { maxLoadRatio: ratio } : {}),
    });
    if (ttl > 0) this.cache.set(capability, { agents, until: Date.now() + ttl });
    return agents;
  }
}
