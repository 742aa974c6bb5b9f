import { AgentStatus } from '../../../src/discovery/agent-record.type';
import { RECORD_GRACE_MS } from '../../../src/discovery/agent-registry.repository';
import { discoveryFixture, type DiscoveryFixture } from './discovery-fixture';

describe('discovery registry on real Redis', () => {
  let f: DiscoveryFixture;

  beforeEach(async () => {
    f = await discoveryFixture({ DISCOVERY_MIN_HEALTH_SCORE: '0.5' });
  });

  afterEach(async () => {
    await f.close();
  });

  const k = (...parts: string[]) => f.prefix + parts.join(':');

  it('writes the record, every index and the TTL on registration', async () => {
    const { agent, created } = await f.service.register({
      id: 'reviewer-1',
      capabilities: ['code-review', 'read'],
      maxLoad: 4,
      healthScore: 0.9,
      model: 'sonnet',
      metadata: { team: 'a' },
    });
    expect(created).toBe(true);
    expect(agent).toMatchObject({
      id: 'reviewer-1',
      name: 'reviewer-1',
      capabilities: ['code-review', 'read'],
      status: AgentStatus.Available,
      load: 0,
      maxLoad: 4,
      healthScore: 0.9,
      model: 'sonnet',
      metadata: { team: 'a' },
      ttlSeconds: 300,
    });
    const hash = await f.raw.hgetall(k('agent', 'reviewer-1'));
    expect(hash).toMatchObject({ id: 'reviewer-1', status: 'AVAILABLE', healthScore: '0.9' });
    expect(await f.raw.smembers(k('capability', 'code-review'))).toEqual(['reviewer-1']);
    expect(await f.raw.smembers(k('capability', 'read'))).toEqual(['reviewer-1']);
    expect(await f.raw.zscore(k('capability_load', 'read'), 'reviewer-1')).toBe('0');
    expect(await f.raw.smembers(k('agent_status', 'AVAILABLE'))).toEqual(['reviewer-1']);
    expect((await f.raw.smembers(k('capabilities'))).sort()).toEqual(['code-review', 'read']);
    const pttl = await f.raw.pttl(k('agent', 'reviewer-1'));
    expect(pttl).toBeGreaterThan(300_000 + RECORD_GRACE_MS - 5000);
    expect(pttl).toBeLessThanOrEqual(300_000 + RECORD_GRACE_MS);
    const exp = Number(await f.raw.zscore(k('agent_expiry'), 'reviewer-1'));
    expect(exp).toBe(Date.parse(agent.expiresAt));
    expect(exp - Date.now()).toBeGreaterThan(295_000);
    expect(f.events.map((e) => e.type)).toEqual(['agent.registered']);
  });

  it('is idempotent by id and moves the agent between capability and status indexes', async () => {
    await f.service.register({ id: 'a1', capabilities: ['x', 'y'], maxLoad: 2 });
    expect(await f.service.tryReserve('a1')).toBe(true);
    const again = await f.service.register({
      id: 'a1',
      capabilities: ['y', 'z'],
      maxLoad: 2,
      status: AgentStatus.Draining,
    });
    expect(again.created).toBe(false);
    expect(again.agent.load).toBe(1); // kept: a reservation was in flight
    expect(again.agent.status).toBe(AgentStatus.Draining);
    expect(await f.raw.exists(k('capability', 'x'))).toBe(0);
    expect(await f.raw.sismember(k('capabilities'), 'x')).toBe(0);
    expect(await f.raw.smembers(k('capability', 'z'))).toEqual(['a1']);
    expect(await f.raw.zscore(k('capability_load', 'y'), 'a1')).toBe('0.5');
    expect(await f.raw.scard(k('agent_status', 'AVAILABLE'))).toBe(0);
    expect(await f.raw.smembers(k('agent_status', 'DRAINING'))).toEqual(['a1']);
    expect(f.events.map((e) => e.type)).toEqual([
      'agent.registered',
      'agent.registered',
      'agent.status',
    ]);
    const third = await f.service.register({ id: 'a1', capabilities: ['y', 'z'], maxLoad: 2 });
    expect(third.agent.registeredAt).toBe(again.agent.registeredAt);
  });

  it('finds agents by overlapping capabilities, least loaded first, with limit', async () => {
    await f.service.register({ id: 'a', capabilities: ['review', 'test'], maxLoad: 4, load: 3 });
    await f.service.register({ id: 'b', capabilities: ['review'], maxLoad: 4, load: 1 });
    await f.service.register({ id: 'c', capabilities: ['test', 'deploy'], maxLoad: 2, load: 0 });
    await f.service.register({ id: 'd', capabilities: ['review', 'deploy'], maxLoad: 10, load: 5 });
    const ids = async (q: Parameters<typeof f.service.find>[0]) =>
      (await f.service.find(q)).map((a) => a.id);
    expect(await ids({ capability: 'review' })).toEqual(['b', 'd', 'a']);
    expect(await ids({ capability: 'test' })).toEqual(['c', 'a']);
    expect(await ids({ capability: 'deploy' })).toEqual(['c', 'd']);
    expect(await ids({ capability: 'review', limit: 2 })).toEqual(['b', 'd']);
    expect(await ids({ capability: 'nobody' })).toEqual([]);
    // load changes re-sort
    await f.service.heartbeat('a', { load: 0 });
    expect(await ids({ capability: 'review' })).toEqual(['a', 'b', 'd']);
  });

  it('filters by health score, load ratio and status', async () => {
    await f.service.register({ id: 'h9', capabilities: ['x'], healthScore: 0.9 });
    await f.service.register({ id: 'h4', capabilities: ['x'], healthScore: 0.4 });
    await f.service.register({
      id: 'h7',
      capabilities: ['x'],
      healthScore: 0.7,
      maxLoad: 4,
      load: 3,
    });
    await f.service.register({ id: 'dr', capabilities: ['x'], status: AgentStatus.Draining });
    await f.service.register({
      id: 'bz',
      capabilities: ['x'],
      status: AgentStatus.Busy,
      maxLoad: 2,
      load: 1,
    });
    const ids = async (q: Parameters<typeof f.service.find>[0]) =>
      (await f.service.find(q)).map((a) => a.id).sort();
    // defaults: AVAILABLE/BUSY, min health from config (0.5)
    expect(await ids({ capability: 'x' })).toEqual(['bz', 'h7', 'h9']);
    expect(await ids({ capability: 'x', minHealthScore: 0 })).toEqual(['bz', 'h4', 'h7', 'h9']);
    expect(await ids({ capability: 'x', minHealthScore: 0.8 })).toEqual(['bz', 'h9']);
    expect(await ids({ capability: 'x', maxLoadRatio: 0.5 })).toEqual(['bz', 'h9']);
    expect(await ids({ capability: 'x', maxLoadRatio: 0 })).toEqual(['h9']);
    expect(await ids({ capability: 'x', status: [AgentStatus.Draining] })).toEqual(['dr']);
    expect(await ids({ capability: 'x', status: [AgentStatus.Available] })).toEqual(['h7', 'h9']);
  });

  it('skips AGENTS_DIR catalogue entries when asked (excludeStatic)', async () => {
    await f.service.register({ id: 'static', capabilities: ['x'], metadata: { source: 'file' } });
    await f.service.register({ id: 'hosted', capabilities: ['x'], maxLoad: 2, load: 1 });
    const ids = async (excludeStatic?: boolean) =>
      (await f.service.find({ capability: 'x', excludeStatic })).map((a) => a.id);
    expect(await ids()).toEqual(['static', 'hosted']);
    expect(await ids(true)).toEqual(['hosted']);
    // Re-registered without the marker: no longer skipped.
    await f.service.register({ id: 'static', capabilities: ['x'] });
    expect(await ids(true)).toEqual(['static', 'hosted']);
  });

  it('lists with filters and cursor pagination, and counts capabilities', async () => {
    for (let i = 0; i < 25; i++) {
      const id = `agent-${String(i).padStart(2, '0')}`;
      await f.service.register({
        id,
        capabilities: i % 2 === 0 ? ['even', 'all'] : ['odd', 'all'],
        status: i % 5 === 0 ? AgentStatus.Offline : AgentStatus.Available,
        healthScore: i < 10 ? 0.2 : 1,
      });
    }
    const collect = async (q: Record<string, unknown>) => {
      const out: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await f.service.list({ sort: 'id', limit: 4, ...q, cursor } as never);
        out.push(...page.items.map((a) => a.id));
        cursor = page.nextCursor ?? undefined;
        pages++;
      } while (cursor);
      return { out, pages };
    };
    const all = await collect({});
    expect(all.out).toHaveLength(25);
    expect(all.out).toEqual([...all.out].sort());
    expect(all.pages).toBeGreaterThanOrEqual(7);
    const even = await collect({ capability: 'even', status: [AgentStatus.Available] });
    expect(even.out).toEqual([
      'agent-02',
      'agent-04',
      'agent-06',
      'agent-08',
      'agent-12',
      'agent-14',
      'agent-16',
      'agent-18',
      'agent-22',
      'agent-24',
    ]);
    const healthy = await collect({ minHealthScore: 0.5, capability: 'odd' });
    expect(healthy.out).toEqual([
      'agent-11',
      'agent-13',
      'agent-15',
      'agent-17',
      'agent-19',
      'agent-21',
      'agent-23',
    ]);
    expect(await f.service.listCapabilities()).toEqual([
      { name: 'all', agents: 25, available: 20 },
      { name: 'even', agents: 13, available: 10 },
      { name: 'odd', agents: 12, available: 10 },
    ]);
  });

  it('reserves and releases slots atomically', async () => {
    await f.service.register({ id: 's', capabilities: ['x'], maxLoad: 3 });
    const results = await Promise.all(Array.from({ length: 10 }, () => f.service.tryReserve('s')));
    expect(results.filter(Boolean)).toHaveLength(3);
    expect((await f.service.get('s')).load).toBe(3);
    expect(await f.raw.zscore(k('capability_load', 'x'), 's')).toBe('1');
    expect(await f.service.find({ capability: 'x', maxLoadRatio: 0.99 })).toEqual([]);
    await Promise.all(Array.from({ length: 5 }, () => f.service.release('s')));
    expect((await f.service.get('s')).load).toBe(0);
    await f.service.heartbeat('s', { status: AgentStatus.Draining });
    expect(await f.service.tryReserve('s')).toBe(false);
    await f.service.heartbeat('s', { status: AgentStatus.Busy });
    expect(await f.service.tryReserve('s')).toBe(true);
    expect(await f.service.tryReserve('nobody')).toBe(false);
    expect(await f.service.release('nobody')).toBe(false);
  });

  it('deregisters from every index', async () => {
    await f.service.register({ id: 'gone', capabilities: ['x', 'y'] });
    await f.service.register({ id: 'stay', capabilities: ['y'] });
    await f.service.deregister('gone');
    expect(await f.raw.exists(k('agent', 'gone'))).toBe(0);
    expect(await f.raw.exists(k('capability', 'x'))).toBe(0);
    expect(await f.raw.exists(k('capability_load', 'x'))).toBe(0);
    expect(await f.raw.smembers(k('capability', 'y'))).toEqual(['stay']);
    expect(await f.raw.smembers(k('agent_status', 'AVAILABLE'))).toEqual(['stay']);
    expect(await f.raw.zrange(k('agent_expiry'), '0', '-1')).toEqual(['stay']);
    expect(await f.raw.zrange(k('agent_ids'), '0', '-1')).toEqual(['stay']);
    expect(await f.raw.smembers(k('capabilities'))).toEqual(['y']);
    await expect(f.service.deregister('gone')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(f.service.get('gone')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(f.events.map((e) => e.type)).toContain('agent.deregistered');
  });
});
