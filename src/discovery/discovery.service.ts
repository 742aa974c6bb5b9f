import { Injectable, Logger } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import { decodeCursor, encodeCursor, type Page } from '../common/http/pagination';
import { ConfigService } from '../config/config.service';
import { EventsService } from '../events/events.service';
import { MetricsService } from '../observability/metrics.service';
import { withSpan } from '../observability/tracing';
import { STATIC_SOURCE } from './agent-definition.mapper';
import { loadRatio } from './agent-record.codec';
import { AgentStatus, type AgentRecord, type FindAgentsQuery } from './agent-record.type';
import { AgentRegistryRepository, type RegistryFilters } from './agent-registry.repository';
import {
  AGENT_ID_PATTERN,
  type CapabilitySummary,
  findAgentsQuerySchema,
  heartbeatSchema,
  type HeartbeatInput,
  type ListAgentsQuery,
  registerAgentSchema,
  type RegisterAgentInput,
} from './discovery.schemas';

/** Statuses that accept new work: what find-by-capability returns unless told otherwise. */
export const ACCEPTING_STATUSES: readonly AgentStatus[] = [AgentStatus.Available, AgentStatus.Busy];
const ALL_STATUSES: readonly AgentStatus[] = Object.values(AgentStatus);
const DEFAULT_FIND_LIMIT = 10;
/** Ids a list call examines per Redis round trip. */
const LIST_SCAN_BUDGET = 1000;
/** Expired agents purged per sweep script call. */
const SWEEP_BATCH = 500;

export interface RegisterResult {
  agent: AgentRecord;
  /** False when the id was already registered (the record was updated in place). */
  created: boolean;
}

/**
 * The agent registry: register / heartbeat / deregister agents, find them by capability, and
 * reserve task slots on them. Liveness is a heartbeat TTL kept in Redis; an agent that stops
 * heartbeating is never returned again and is purged from every index by {@link sweepExpired}.
 */
@Injectable()
export class DiscoveryService {
  private readonly logger = new Logger(DiscoveryService.name);

  constructor(
    private readonly repo: AgentRegistryRepository,
    private readonly config: ConfigService,
    private readonly events: EventsService,
    private readonly metrics: MetricsService,
  ) {}

  /** Registers an agent, or updates it when the id exists (idempotent by id). */
  async register(input: RegisterAgentInput): Promise<RegisterResult> {
    const a = registerAgentSchema.parse(input);
    const outcome = await withSpan('discovery.register', { 'agent.id': a.id }, () =>
      this.repo.register({
        id: a.id,
        name: a.name ?? a.id,
        description: a.description ?? '',
        capabilities: [...new Set(a.capabilities)],
        maxLoad: a.maxLoad ?? 1,
        executor: a.executor,
        model: a.model,
        workerId: a.workerId,
        source: a.metadata?.[STATIC_SOURCE.key],
        metadata: a.metadata ?? {},
        ttlMs: (a.ttlSeconds ?? this.config.discovery.heartbeatTtlSeconds) * 1000,
        status: a.status,
        load: a.load,
        healthScore: a.healthScore,
      }),
    );
    const agent = outcome.record;
    if (outcome.expiredBefore) this.emitExpired([agent.id]);
    this.events.emit('agent.registered', {
      agentId: agent.id,
      data: {
        name: agent.name,
        capabilities: agent.capabilities,
        status: agent.status,
        created: outcome.created,
      },
    });
    if (outcome.previousStatus !== undefined && outcome.previousStatus !== agent.status) {
      this.emitStatus(agent, outcome.previousStatus);
    }
    this.observeUtilization(agent);
    return { agent, created: outcome.created };
  }

  /** The live agent with this id, or undefined. */
  async tryGet(id: string): Promise<AgentRecord | undefined> {
    if (!AGENT_ID_PATTERN.test(id)) return undefined;
    const { record, expired } = await this.repo.get(id);
    if (expired) this.emitExpired([id]);
    return record;
  }

  /** The live agent with this id; 404 when unknown or expired. */
  async get(id: string): Promise<AgentRecord> {
    const record = await this.tryGet(id);
    if (!record) throw AppException.notFound('agent', id);
    return record;
  }

  /** Refreshes the agent's TTL and updates the fields given; 404 when unknown or expired. */
  async heartbeat(id: string, input: HeartbeatInput = {}): Promise<AgentRecord> {
    const patch = heartbeatSchema.parse(input);
    const outcome = await this.repo.heartbeat(id, patch);
    if (!outcome.found) {
      if (outcome.reason === 'expired') this.emitExpired([id]);
      throw new AppException(
        ErrorCode.NotFound,
        `agent '${id}' is not registered${outcome.reason === 'expired' ? ' (its heartbeat expired)' : ''}; register it again`,
        { agent: id, reason: outcome.reason },
      );
    }
    const agent = outcome.record;
    if (outcome.previousStatus !== agent.status) this.emitStatus(agent, outcome.previousStatus);
    this.observeUtilization(agent);
    return agent;
  }

  /** Removes the agent from the registry; 404 when unknown or expired. */
  async deregister(id: string): Promise<void> {
    const { found, expired } = await this.repo.deregister(id);
    if (expired) this.emitExpired([id]);
    if (!found) throw AppException.notFound('agent', id);
    this.metrics.agentUtilization.remove({ agent: id });
    this.events.emit('agent.deregistered', { agentId: id });
  }

  /**
   * Live agents with a capability, least loaded first (load / maxLoad, then id). Defaults:
   * statuses AVAILABLE and BUSY, minHealthScore DISCOVERY_MIN_HEALTH_SCORE, limit 10; with
   * `excludeStatic`, AGENTS_DIR catalogue entries (metadata source=file) are skipped.
   */
  async find(query: FindAgentsQuery): Promise<AgentRecord[]> {
    const q = findAgentsQuerySchema.parse(query);
    return this.repo.find(
      q.capability,
      {
        statuses: q.status ?? ACCEPTING_STATUSES,
        minHealthScore: q.minHealthScore ?? this.config.discovery.minHealthScore,
        maxLoadRatio: q.maxLoadRatio,
        excludeSource: q.excludeStatic ? STATIC_SOURCE.value : undefined,
      },
      q.limit ?? DEFAULT_FIND_LIMIT,
    );
  }

  /**
   * Agents matching the filters in id order, one page at a time. With `sort: 'load'` this is
   * {@link find} (least loaded first, single page).
   */
  async list(query: ListAgentsQuery): Promise<Page<AgentRecord>> {
    if (query.sort === 'load' && query.capability !== undefined) {
      const items = await this.find({
        capability: query.capability,
        status: query.status,
        minHealthScore: query.minHealthScore,
        maxLoadRatio: query.maxLoadRatio,
        limit: query.limit,
      });
      return { items, nextCursor: null };
    }
    let after = this.cursorToId(query.cursor);
    const filters: RegistryFilters & { capability?: string } = {
      capability: query.capability,
      statuses: query.status,
      minHealthScore: query.minHealthScore ?? 0,
      maxLoadRatio: query.maxLoadRatio,
    };
    const items: AgentRecord[] = [];
    for (;;) {
      const step = await this.repo.listStep(
        after,
        filters,
        query.limit - items.length,
        LIST_SCAN_BUDGET,
      );
      items.push(...step.records);
      after = step.last ?? after;
      if (step.done) return { items, nextCursor: null };
      if (items.length >= query.limit) {
        return { items, nextCursor: after === undefined ? null : encodeCursor(after) };
      }
    }
  }

  /** Every capability with its live agent count (expired agents are swept first). */
  async listCapabilities(): Promise<CapabilitySummary[]> {
    await this.sweepExpired();
    const caps = await this.repo.listCapabilities();
    return caps.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Atomically takes one task slot on the agent: true when it is live, AVAILABLE or BUSY, and
   * below its max load (its load is then one higher); false otherwise.
   */
  async tryReserve(agentId: string): Promise<boolean> {
    const slot = await this.repo.reserveSlot(agentId);
    if (slot.ok) this.observeUtilization({ id: agentId, load: slot.load!, maxLoad: slot.maxLoad! });
    return slot.ok;
  }

  /** Gives back a slot taken by {@link tryReserve} (load - 1, never below 0). */
  async release(agentId: string): Promise<boolean> {
    const slot = await this.repo.releaseSlot(agentId);
    if (slot.ok) this.observeUtilization({ id: agentId, load: slot.load!, maxLoad: slot.maxLoad! });
    return slot.ok;
  }

  /**
   * Purges every agent whose heartbeat expired from every index, emits `agent.expired` for each
   * and refreshes the registered_agents gauge. Safe to run from several instances at once: each
   * expired agent is purged (and reported) by exactly one of them.
   */
  async sweepExpired(): Promise<string[]> {
    const removed: string[] = [];
    for (;;) {
      const ids = await this.repo.sweepExpired(SWEEP_BATCH);
      removed.push(...ids);
      if (ids.length < SWEEP_BATCH) break;
    }
    if (removed.length > 0) {
      this.logger.log(`${removed.length} agent(s) expired: ${removed.slice(0, 10).join(', ')}`);
      this.emitExpired(removed);
    }
    const counts = await this.repo.countByStatus(ALL_STATUSES);
    for (const [status, n] of Object.entries(counts)) {
      this.metrics.registeredAgents.set({ status }, n);
    }
    return removed;
  }

  private cursorToId(cursor: string | undefined): string | undefined {
    const id = decodeCursor(cursor);
    if (id !== undefined && !AGENT_ID_PATTERN.test(id)) {
      throw AppException.validation('Invalid cursor', [
        { field: 'cursor', message: "not a cursor from a previous page's nextCursor" },
      ]);
    }
    return id;
  }

  private emitExpired(ids: string[]): void {
    for (const id of ids) {
      this.metrics.agentUtilization.remove({ agent: id });
      this.events.emit('agent.expired', { agentId: id, data: { reason: 'heartbeat timeout' } });
    }
  }

  private emitStatus(agent: AgentRecord, from: AgentStatus): void {
    this.events.emit('agent.status', {
      agentId: agent.id,
      data: { from, to: agent.status, load: agent.load, maxLoad: agent.maxLoad },
    });
  }

  /** Records an agent's load after a slot was taken or given back elsewhere (the queue's scripts). */
  observeUtilization(agent: Pick<AgentRecord, 'id' | 'load' | 'maxLoad'>): void {
    this.metrics.agentUtilization.set({ agent: agent.id }, loadRatio(agent));
  }
}
