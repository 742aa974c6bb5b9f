import { AgentStatus } from '../../../src/discovery/agent-record.type';
import { DiscoverySweeper } from '../../../src/discovery/discovery-sweeper.service';
import { discoveryFixture, type DiscoveryFixture, sleep } from './discovery-fixture';

/** Heartbeat TTL: shortened to 1-2 s (per agent via ttlSeconds) instead of the default 300 s. */
describe('discovery heartbeat TTL on real Redis', () => {
  let f: DiscoveryFixture;

  beforeEach(async () => {
    f = await discoveryFixture({ DISCOVERY_HEARTBEAT_TTL_SECONDS: '2' });
  });

  afterEach(async () => {
    await f.close();
  });

  const k = (...parts: string[]) => f.prefix + parts.join(':');

  /** Every key the registry keeps, with the members that mention `id`. */
  async function mentions(id: string): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await f.raw.scan(cursor, 'MATCH', `${f.prefix}*`, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const type = await f.raw.type(key);
        if (key === k('agent', id)) found.push(key);
        else if (type === 'set' && (await f.raw.sismember(key, id))) found.push(key);
        else if (type === 'zset' && (await f.raw.zscore(key, id)) !== null) found.push(key);
      }
    } while (cursor !== '0');
    return found.sort();
  }

  it('keeps an agent that heartbeats before its TTL and drops one that does not', async () => {
    await f.service.register({ id: 'alive', capabilities: ['x'] });
    await f.service.register({ id: 'silent', capabilities: ['x'] });
    for (let i = 0; i < 5; i++) {
      await sleep(500);
      await f.service.heartbeat('alive', { load: 0 });
    }
    // 2.5 s after registration: past the 2 s TTL of 'silent', while 'alive' was refreshed.
    expect((await f.service.find({ capability: 'x' })).map((a) => a.id)).toEqual(['alive']);
    expect((await f.service.get('alive')).id).toBe('alive');
    await expect(f.service.tryGet('silent')).resolves.toBeUndefined();
  });

  it('never returns an expired agent from any query, even before a sweep', async () => {
    await f.service.register({ id: 'old', capabilities: ['x', 'y'], ttlSeconds: 1 });
    await f.service.register({ id: 'new', capabilities: ['y'] });
    await sleep(1200);
    // Nothing has swept yet: the indexes still hold 'old', but queries must not show it.
    expect(await f.raw.sismember(k('capability', 'x'), 'old')).toBe(1);
    expect(await f.service.find({ capability: 'x' })).toEqual([]);
    expect((await f.service.find({ capability: 'y' })).map((a) => a.id)).toEqual(['new']);
    const page = await f.service.list({ sort: 'id', limit: 100 });
    expect(page.items.map((a) => a.id)).toEqual(['new']);
    expect(await f.service.tryReserve('old')).toBe(false);
    await expect(f.service.heartbeat('old')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      details: { reason: 'expired' },
    });
    // The heartbeat found it expired and purged it (lazy cleanup) and reported it.
    expect(await mentions('old')).toEqual([]);
    expect(f.events.filter((e) => e.type === 'agent.expired').map((e) => e.agentId)).toEqual([
      'old',
    ]);
  });

  it('the sweep removes expired agents from every index and emits agent.expired once', async () => {
    await f.service.register({ id: 'e1', capabilities: ['x', 'y'], ttlSeconds: 1 });
    await f.service.register({
      id: 'e2',
      capabilities: ['y'],
      ttlSeconds: 1,
      status: AgentStatus.Busy,
    });
    await f.service.register({ id: 'live', capabilities: ['y'] });
    expect(await mentions('e1')).toHaveLength(8);
    await sleep(1200);
    const [a, b] = await Promise.all([f.service.sweepExpired(), f.service.sweepExpired()]);
    expect([...a, ...b].sort()).toEqual(['e1', 'e2']);
    expect(await mentions('e1')).toEqual([]);
    expect(await mentions('e2')).toEqual([]);
    expect(await mentions('live')).toHaveLength(6);
    expect(await f.raw.exists(k('capability', 'x'), k('capability_load', 'x'))).toBe(0);
    expect(await f.service.listCapabilities()).toEqual([{ name: 'y', agents: 1, available: 1 }]);
    const expired = f.events.filter((e) => e.type === 'agent.expired').map((e) => e.agentId);
    expect(expired.sort()).toEqual(['e1', 'e2']);
  });

  it('the periodic sweeper purges and reports expired agents with no query at all', async () => {
    const sweeper = new DiscoverySweeper(f.service, {
      ...f.config,
      discovery: { ...f.config.discovery, sweepIntervalMs: 200 },
    });
    sweeper.onApplicationBootstrap();
    try {
      await f.service.register({ id: 'quiet', capabilities: ['x'], ttlSeconds: 1 });
      await sleep(1000);
      // Due now; the sweeper gets it within a few ticks (allow for a loaded machine).
      const expired = () =>
        f.events.some((e) => e.type === 'agent.expired' && e.agentId === 'quiet');
      for (let waited = 0; !expired() && waited < 5000; waited += 100) await sleep(100);
      expect(expired()).toBe(true);
      expect(await mentions('quiet')).toEqual([]);
    } finally {
      await sweeper.onApplicationShutdown();
    }
  });

  it('cleans the indexes even when the record hash itself is already gone', async () => {
    await f.service.register({ id: 'lost', capabilities: ['x', 'y'], ttlSeconds: 1 });
    await f.raw.del(k('agent', 'lost')); // as if it outlived its grace period
    await sleep(1100);
    expect(await f.service.sweepExpired()).toEqual(['lost']);
    expect(await mentions('lost')).toEqual([]);
  });

  it('re-registering an expired id starts afresh and reports the expiry', async () => {
    await f.service.register({ id: 'r', capabilities: ['x'], ttlSeconds: 1, load: 1, maxLoad: 2 });
    await sleep(1100);
    const { agent, created } = await f.service.register({ id: 'r', capabilities: ['x'] });
    expect(created).toBe(true);
    expect(agent.load).toBe(0);
    expect(f.events.map((e) => e.type)).toEqual([
      'agent.registered',
      'agent.expired',
      'agent.registered',
    ]);
  });
});
