import { join } from 'node:path';
import { Injectable } from '@nestjs/common';
import { LuaScripts } from '../redis/lua-scripts.loader';
import { RedisService } from '../redis/redis.service';
import { AgentRecordDecodeError, decodeAgentRecord } from './agent-record.codec';
import type { AgentRecord, AgentStatus } from './agent-record.type';

/** How long an `agent:{id}` hash outlives its expiry, so the sweeper can still read it. */
export const RECORD_GRACE_MS = 60_000;

/** What `register` stores besides status/load/health (which it keeps unless given). */
export interface AgentRegistration {
  id: string;
  name: string;
  description: string;
  capabilities: string[];
  maxLoad: number;
  executor?: string;
  model?: string;
  workerId?: string;
  /** `metadata.source`, stored as its own field so find can skip e.g. static entries. */
  source?: string;
  metadata: Record<string, string>;
  ttlMs: number;
  status?: AgentStatus;
  load?: number;
  healthScore?: number;
}

export interface AgentPatch {
  status?: AgentStatus;
  load?: number;
  maxLoad?: number;
  healthScore?: number;
}

export interface RegisterOutcome {
  record: AgentRecord;
  created: boolean;
  previousStatus?: AgentStatus;
  /** A record under this id had expired (and was purged before registering). */
  expiredBefore: boolean;
}

export type MissingReason = 'unknown' | 'expired';

export type HeartbeatOutcome =
  | { found: true; record: AgentRecord; previousStatus: AgentStatus }
  | { found: false; reason: MissingReason };

export interface RegistryFilters {
  /** Statuses to include; undefined = any. */
  statuses?: readonly AgentStatus[];
  minHealthScore: number;
  /** undefined = no limit. */
  maxLoadRatio?: number;
  /** Skip agents registered with this `metadata.source` (find only). */
  excludeSource?: string;
}

export interface ListStep {
  records: AgentRecord[];
  /** Id of the last agent examined; list the rest after it. */
  last?: string;
  done: boolean;
}

export interface SlotOutcome {
  ok: boolean;
  load?: number;
  maxLoad?: number;
}

/** The Lua commands of `commands/`, as defined on the shared client. */
interface DiscoveryCommands {
  registerAgent(...args: string[]): Promise<unknown>;
  heartbeatAgent(...args: string[]): Promise<unknown>;
  deregisterAgent(...args: string[]): Promise<unknown>;
  getAgent(...args: string[]): Promise<unknown>;
  findAgents(...args: string[]): Promise<unknown>;
  listAgents(...args: string[]): Promise<unknown>;
  listCapabilities(...args: string[]): Promise<unknown>;
  sweepExpiredAgents(...args: string[]): Promise<unknown>;
  reserveAgentSlot(...args: string[]): Promise<unknown>;
  releaseAgentSlot(...args: string[]): Promise<unknown>;
}

/** The scripts of `commands/` this repository calls (loaded at boot; a missing one stops it). */
export const DISCOVERY_SCRIPTS = [
  'register-agent-3',
  'heartbeat-agent-2',
  'deregister-agent-2',
  'get-agent-2',
  'find-agents-2',
  'list-agents-2',
  'list-capabilities-1',
  'sweep-expired-agents-1',
  'reserve-agent-slot-2',
  'release-agent-slot-2',
] as const;

function asArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new AgentRecordDecodeError(`${what}: expected an array reply`);
  return value as unknown[];
}

function asRecords(value: unknown, what: string): AgentRecord[] {
  return asArray(value, what).map((r) => decodeAgentRecord(asArray(r, what)));
}

const ratioArg = (r: number | undefined): string => (r === undefined ? '+inf' : String(r));

/**
 * Every Redis access of the discovery module. Each operation is one atomic Lua script (see
 * `commands/*.lua` and docs/redis-schema.md), so a record and its indexes never disagree.
 */
@Injectable()
export class AgentRegistryRepository {
  private readonly cmd: DiscoveryCommands;

  constructor(private readonly redis: RedisService) {
    this.cmd = LuaScripts.load(
      join(__dirname, 'commands'),
      DISCOVERY_SCRIPTS,
    ).defineOn<DiscoveryCommands>(redis.client);
  }

  private get prefix(): string {
    return this.redis.prefix;
  }

  private agentKey(id: string): string {
    return this.redis.key('agent', id);
  }

  private get expiryKey(): string {
    return this.redis.key('agent_expiry');
  }

  async register(reg: AgentRegistration): Promise<RegisterOutcome> {
    const payload = {
      name: reg.name,
      description: reg.description,
      capabilitiesJson: JSON.stringify(reg.capabilities),
      maxLoad: reg.maxLoad,
      executor: reg.executor,
      model: reg.model,
      workerId: reg.workerId,
      source: reg.source,
      metadataJson: JSON.stringify(reg.metadata),
      ttlMs: reg.ttlMs,
      graceMs: RECORD_GRACE_MS,
      status: reg.status,
      load: reg.load,
      healthScore: reg.healthScore,
    };
    const reply = asArray(
      await this.cmd.registerAgent(
        this.agentKey(reg.id),
        this.expiryKey,
        this.redis.key('agent_ids'),
        this.prefix,
        reg.id,
        JSON.stringify(payload),
      ),
      'registerAgent',
    );
    const previous = reply[1];
    return {
      created: reply[0] === 1,
      previousStatus: typeof previous === 'string' ? (previous as AgentStatus) : undefined,
      expiredBefore: reply[2] === 1,
      record: decodeAgentRecord(asArray(reply[3], 'registerAgent')),
    };
  }

  async heartbeat(id: string, patch: AgentPatch): Promise<HeartbeatOutcome> {
    const reply = asArray(
      await this.cmd.heartbeatAgent(
        this.agentKey(id),
        this.expiryKey,
        this.prefix,
        id,
        String(RECORD_GRACE_MS),
        JSON.stringify(patch),
      ),
      'heartbeatAgent',
    );
    if (reply[0] !== 1) return { found: false, reason: reply[1] === 1 ? 'expired' : 'unknown' };
    return {
      found: true,
      previousStatus: reply[1] as AgentStatus,
      record: decodeAgentRecord(asArray(reply[2], 'heartbeatAgent')),
    };
  }

  /** Returns whether the agent was live; `expired` when it had expired (and is purged now). */
  async deregister(id: string): Promise<{ found: boolean; expired: boolean }> {
    const reply = asArray(
      await this.cmd.deregisterAgent(this.agentKey(id), this.expiryKey, this.prefix, id),
      'deregisterAgent',
    );
    return { found: reply[0] === 1, expired: reply[1] === 1 };
  }

  async get(id: string): Promise<{ record?: AgentRecord; expired: boolean }> {
    const reply = asArray(
      await this.cmd.getAgent(this.agentKey(id), this.expiryKey, this.prefix, id),
      'getAgent',
    );
    if (reply[0] === 1) {
      return { record: decodeAgentRecord(asArray(reply[1], 'getAgent')), expired: false };
    }
    return { expired: reply[1] === 1 };
  }

  /** Live agents with `capability` matching the filters, least loaded first. */
  async find(capability: string, filters: RegistryFilters, limit: number): Promise<AgentRecord[]> {
    const reply = await this.cmd.findAgents(
      this.redis.key('capability_load', capability),
      this.expiryKey,
      this.prefix,
      ratioArg(filters.maxLoadRatio),
      String(filters.minHealthScore),
      (filters.statuses ?? []).join(','),
      String(limit),
      filters.excludeSource ?? '',
    );
    return asRecords(reply, 'findAgents');
  }

  /** One bounded step of listing live agents in id order, after `cursor`. */
  async listStep(
    cursor: string | undefined,
    filters: RegistryFilters & { capability?: string },
    limit: number,
    budget: number,
  ): Promise<ListStep> {
    const reply = asArray(
      await this.cmd.listAgents(
        this.redis.key('agent_ids'),
        this.expiryKey,
        this.prefix,
        cursor ?? '',
        String(limit),
        String(budget),
        filters.capability ?? '',
        (filters.statuses ?? []).join(','),
        String(filters.minHealthScore),
        ratioArg(filters.maxLoadRatio),
      ),
      'listAgents',
    );
    const last = reply[1];
    return {
      done: reply[0] === 1,
      last: typeof last === 'string' ? last : undefined,
      records: asRecords(reply[2], 'listAgents'),
    };
  }

  async listCapabilities(): Promise<{ name: string; agents: number; available: number }[]> {
    const flat = asArray(
      await this.cmd.listCapabilities(this.redis.key('capabilities'), this.prefix),
      'listCapabilities',
    );
    const out: { name: string; agents: number; available: number }[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      out.push({
        name: String(flat[i]),
        agents: Number(flat[i + 1]),
        available: Number(flat[i + 2]),
      });
    }
    return out;
  }

  /** Purges up to `max` expired agents from every index; returns their ids. */
  async sweepExpired(max: number): Promise<string[]> {
    const reply = asArray(
      await this.cmd.sweepExpiredAgents(this.expiryKey, this.prefix, String(max)),
      'sweepExpiredAgents',
    );
    return reply.map(String);
  }

  async reserveSlot(id: string): Promise<SlotOutcome> {
    return this.slot(
      await this.cmd.reserveAgentSlot(this.agentKey(id), this.expiryKey, this.prefix, id),
    );
  }

  async releaseSlot(id: string): Promise<SlotOutcome> {
    return this.slot(
      await this.cmd.releaseAgentSlot(this.agentKey(id), this.expiryKey, this.prefix, id),
    );
  }

  private slot(value: unknown): SlotOutcome {
    const reply = asArray(value, 'slot');
    if (reply[0] !== 1) return { ok: false };
    return { ok: true, load: Number(reply[1]), maxLoad: Number(reply[2]) };
  }

  /** Agents per status (the status sets hold only unexpired agents once swept). */
  async countByStatus(statuses: readonly AgentStatus[]): Promise<Record<string, number>> {
    const counts = await Promise.all(
      statuses.map((s) => this.redis.client.scard(this.redis.key('agent_status', s))),
    );
    return Object.fromEntries(statuses.map((s, i) => [s, counts[i] ?? 0]));
  }
}
