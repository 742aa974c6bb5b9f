import { type AgentRecord, AgentStatus } from '../discovery/agent-record.type';
import type { FindAgentsQuery } from '../discovery/agent-record.type';
import { AgentPicker } from './agent-picker';

function agent(id: string, load: number, maxLoad = 4): AgentRecord {
  const now = new Date().toISOString();
  return {
    id,
    name: id.split('@')[0],
    description: '',
    capabilities: ['cap'],
    status: AgentStatus.Available,
    load,
    maxLoad,
    healthScore: 1,
    registeredAt: now,
    lastHeartbeatAt: now,
    expiresAt: now,
    metadata: {},
  };
}

/** A registry whose answers the test controls, counting reads. */
class Registry {
  reads: FindAgentsQuery[] = [];
  agents: AgentRecord[] = [];
  gate?: Promise<void>;
  async find(q: FindAgentsQuery): Promise<AgentRecord[]> {
    this.reads.push(q);
    await this.gate;
    return this.agents.map((a) => ({ ...a }));
  }
}

const open = new Set<string>();
const breakers = { canDispatch: (id: string) => !open.has(id) };

describe('AgentPicker', () => {
  beforeEach(() => {
    open.clear();
    jest.useRealTimers();
  });

  it('picks nothing from a cold cache, reads the list once in the background, then picks from it', async () => {
    const reg = new Registry();
    reg.agents = [agent('a@w', 0)];
    const picker = new AgentPicker(reg, breakers, { cacheMs: 50, maxLoadRatio: 1 });
    expect(picker.pick('cap')).toBeUndefined();
    expect(picker.pick('cap')).toBeUndefined();
    await new Promise((r) => setImmediate(r));
    expect(reg.reads).toHaveLength(1);
    expect(picker.pick('cap')).toBe('a@w');
    expect(reg.reads[0]).toMatchObject({ capability: 'cap', excludeStatic: true });
    expect(reg.reads[0]).not.toHaveProperty('maxLoadRatio');
  });

  it('spreads a burst over the agents by counting its own reservations, and unreserve gives them back', async () => {
    const reg = new Registry();
    reg.agents = [agent('a@w', 0, 2), agent('b@w', 0, 2)];
    const picker = new AgentPicker(reg, breakers, { cacheMs: 10_000, maxLoadRatio: 1 });
    await picker.candidates('cap', false);
    const picks = [picker.pick('cap'), picker.pick('cap'), picker.pick('cap'), picker.pick('cap')];
    expect(picks.sort()).toEqual(['a@w', 'a@w', 'b@w', 'b@w']);
    picker.unreserve('b@w');
    picker.unreserve('b@w');
    expect(picker.pick('cap')).toBe('b@w');
  });

  it('skips an agent whose breaker is open', async () => {
    const reg = new Registry();
    reg.agents = [agent('a@w', 0), agent('b@w', 3)];
    const picker = new AgentPicker(reg, breakers, { cacheMs: 10_000, maxLoadRatio: 1 });
    await picker.candidates('cap', false);
    open.add('a@w');
    expect(picker.pick('cap')).toBe('b@w');
    open.add('b@w');
    expect(picker.pick('cap')).toBeUndefined();
  });

  it('shares one registry read between concurrent cold dispatches, and fresh reads bypass the cache', async () => {
    const reg = new Registry();
    reg.agents = [agent('a@w', 0)];
    let release!: () => void;
    reg.gate = new Promise<void>((r) => (release = r));
    const picker = new AgentPicker(reg, breakers, { cacheMs: 10_000, maxLoadRatio: 0.5 });
    const all = Promise.all(Array.from({ length: 50 }, () => picker.candidates('cap', false)));
    release();
    const lists = await all;
    expect(reg.reads).toHaveLength(1);
    expect(lists.every((l) => l[0].id === 'a@w')).toBe(true);
    expect(reg.reads[0]).toMatchObject({ maxLoadRatio: 0.5 });
    await picker.candidates('cap', false);
    expect(reg.reads).toHaveLength(1);
    await picker.candidates('cap', true);
    expect(reg.reads).toHaveLength(2);
    expect(picker.cached('cap', 'a@w')?.id).toBe('a@w');
    expect(picker.cached('cap', 'zz@w')).toBeUndefined();
  });

  it('stops naming agents from a list more than a second past its expiry', async () => {
    jest.useFakeTimers({ now: 1_000_000, doNotFake: ['setImmediate', 'nextTick'] });
    const reg = new Registry();
    reg.agents = [agent('a@w', 0)];
    const picker = new AgentPicker(reg, breakers, { cacheMs: 100, maxLoadRatio: 1 });
    await picker.candidates('cap', false);
    reg.gate = new Promise<void>(() => undefined); // the refresh never answers
    jest.setSystemTime(1_000_000 + 100 + 500); // expired, within the 1 s grace
    expect(picker.pick('cap')).toBe('a@w');
    expect(reg.reads).toHaveLength(2); // a background refresh started
    expect(picker.pick('cap')).toBe('a@w');
    expect(reg.reads).toHaveLength(2); // one refresh at a time
    jest.setSystemTime(1_000_000 + 100 + 1000);
    expect(picker.pick('cap')).toBeUndefined();
  });

  it('with no cache, every read goes to the registry', async () => {
    const reg = new Registry();
    reg.agents = [agent('a@w', 0)];
    const picker = new AgentPicker(reg, breakers, { cacheMs: 0, maxLoadRatio: 1 });
    await picker.candidates('cap', false);
    await picker.candidates('cap', false);
    expect(reg.reads).toHaveLength(2);
    expect(picker.cached('cap', 'a@w')).toBeUndefined();
  });
});
