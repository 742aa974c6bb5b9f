import {
  AGENT_HASH_FIELDS,
  AgentRecordDecodeError,
  decodeAgentRecord,
  loadRatio,
} from './agent-record.codec';
import { AgentStatus } from './agent-record.type';

const base: Record<(typeof AGENT_HASH_FIELDS)[number], string | null> = {
  id: 'a1',
  name: 'Agent one',
  description: 'does things',
  capabilities: '["code","read"]',
  status: 'BUSY',
  load: '2',
  maxLoad: '4',
  healthScore: '0.75',
  executor: null,
  model: 'sonnet',
  workerId: null,
  registeredAt: '1764000000000',
  lastHeartbeatAt: '1764000001000',
  expiresAt: '1764000301000',
  metadata: '{"source":"file"}',
  ttlMs: '300000',
};
const values = (over: Partial<typeof base> = {}) =>
  AGENT_HASH_FIELDS.map((f) => ({ ...base, ...over })[f]);

describe('decodeAgentRecord', () => {
  it('turns the hash values into a typed record with ISO dates', () => {
    expect(decodeAgentRecord(values())).toEqual({
      id: 'a1',
      name: 'Agent one',
      description: 'does things',
      capabilities: ['code', 'read'],
      status: AgentStatus.Busy,
      load: 2,
      maxLoad: 4,
      healthScore: 0.75,
      model: 'sonnet',
      registeredAt: new Date(1764000000000).toISOString(),
      lastHeartbeatAt: new Date(1764000001000).toISOString(),
      expiresAt: new Date(1764000301000).toISOString(),
      metadata: { source: 'file' },
      ttlSeconds: 300,
    });
  });

  it('leaves optional fields out rather than undefined', () => {
    const r = decodeAgentRecord(values({ model: null, description: null }));
    expect('model' in r).toBe(false);
    expect('executor' in r).toBe(false);
    expect(r.description).toBe('');
  });

  it('accepts numbers where Lua returned integers', () => {
    const v: unknown[] = values();
    v[5] = 3;
    expect(decodeAgentRecord(v).load).toBe(3);
  });

  it('refuses replies that break the contract', () => {
    expect(() => decodeAgentRecord(values().slice(1))).toThrow(AgentRecordDecodeError);
    expect(() => decodeAgentRecord(values({ status: 'NAPPING' }))).toThrow(/unknown status/);
    expect(() => decodeAgentRecord(values({ id: null }))).toThrow(/lacks field id/);
    expect(() => decodeAgentRecord(values({ load: 'many' }))).toThrow(/load is not a number/);
  });
});

describe('loadRatio', () => {
  it('is load / maxLoad', () => {
    expect(loadRatio({ load: 1, maxLoad: 4 })).toBe(0.25);
    expect(loadRatio({ load: 0, maxLoad: 1 })).toBe(0);
    expect(loadRatio({ load: 0, maxLoad: 0 })).toBe(1);
  });
});
