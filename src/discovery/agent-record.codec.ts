import { AgentStatus, type AgentRecord } from './agent-record.type';

/** The fields of the `agent:{id}` hash, in the order the Lua scripts return them (`AGENT_FIELDS`). */
export const AGENT_HASH_FIELDS = [
  'id',
  'name',
  'description',
  'capabilities',
  'status',
  'load',
  'maxLoad',
  'healthScore',
  'executor',
  'model',
  'workerId',
  'registeredAt',
  'lastHeartbeatAt',
  'expiresAt',
  'metadata',
  'ttlMs',
] as const;

const STATUSES = new Set<string>(Object.values(AgentStatus));

/** Thrown when a Redis reply does not have the shape the scripts promise (a bug, not bad input). */
export class AgentRecordDecodeError extends Error {
  override name = 'AgentRecordDecodeError';
}

function str(values: readonly unknown[], index: number): string | undefined {
  const v = values[index];
  if (v === null || v === undefined || v === false) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || Buffer.isBuffer(v)) return String(v);
  throw new AgentRecordDecodeError(`field ${AGENT_HASH_FIELDS[index]} has type ${typeof v}`);
}

function required(values: readonly unknown[], index: number): string {
  const v = str(values, index);
  if (v === undefined) {
    throw new AgentRecordDecodeError(`agent record lacks field ${AGENT_HASH_FIELDS[index]}`);
  }
  return v;
}

function num(values: readonly unknown[], index: number): number {
  const n = Number(required(values, index));
  if (!Number.isFinite(n)) {
    throw new AgentRecordDecodeError(`field ${AGENT_HASH_FIELDS[index]} is not a number`);
  }
  return n;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Turns the values of an `agent:{id}` hash (HMGET in {@link AGENT_HASH_FIELDS} order) into a record. */
export function decodeAgentRecord(values: readonly unknown[]): AgentRecord {
  if (values.length !== AGENT_HASH_FIELDS.length) {
    throw new AgentRecordDecodeError(
      `expected ${AGENT_HASH_FIELDS.length} fields, got ${values.length}`,
    );
  }
  const status = required(values, 4);
  if (!STATUSES.has(status)) throw new AgentRecordDecodeError(`unknown status '${status}'`);
  const record: AgentRecord = {
    id: required(values, 0),
    name: required(values, 1),
    description: str(values, 2) ?? '',
    capabilities: JSON.parse(required(values, 3)) as string[],
    status: status as AgentStatus,
    load: num(values, 5),
    maxLoad: num(values, 6),
    healthScore: num(values, 7),
    registeredAt: iso(num(values, 11)),
    lastHeartbeatAt: iso(num(values, 12)),
    expiresAt: iso(num(values, 13)),
    metadata: JSON.parse(str(values, 14) ?? '{}') as Record<string, string>,
    ttlSeconds: num(values, 15) / 1000,
  };
  const executor = str(values, 8);
  const model = str(values, 9);
  const workerId = str(values, 10);
  if (executor !== undefined) record.executor = executor;
  if (model !== undefined) record.model = model;
  if (workerId !== undefined) record.workerId = workerId;
  return record;
}

/** load / maxLoad, the key the capability indexes sort by. */
export function loadRatio(record: Pick<AgentRecord, 'load' | 'maxLoad'>): number {
  return record.maxLoad > 0 ? record.load / record.maxLoad : 1;
}
