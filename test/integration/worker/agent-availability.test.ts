import { AgentStatus } from '../../../src/discovery/agent-record.type';
import { AgentAvailability } from '../../../src/worker/agent-availability';
import { discoveryFixture, type DiscoveryFixture } from '../discovery/discovery-fixture';

/** What the worker heartbeats for a rate-limited agent really hides it from discovery (real Redis). */
describe('a rate-limited agent is unavailable for its capability until its retry time', () => {
  let fx: DiscoveryFixture;
  beforeEach(async () => {
    fx = await discoveryFixture();
  });
  afterEach(() => fx.close());

  it('heartbeats OFFLINE while limited (find skips it), AVAILABLE again after', async () => {
    const register = (id: string) =>
      fx.service.register({
        id,
        name: id.split('@')[0],
        description: 'd',
        capabilities: ['review'],
        maxLoad: 1,
        workerId: 'w1',
        ttlSeconds: 30,
        status: AgentStatus.Available,
        load: 0,
        metadata: { source: 'worker' },
      });
    await register('cc@w1');
    await register('other@w1');
    const availability = new AgentAvailability();
    const now = Date.now();
    availability.markLimited(
      'cc',
      'usage limit',
      { retryAt: new Date(now + 60_000).toISOString() },
      now,
    );
    for (const name of ['cc', 'other']) {
      await fx.service.heartbeat(`${name}@w1`, {
        load: 0,
        status: availability.status(name, 0, 1, now),
      });
    }
    expect((await fx.service.find({ capability: 'review' })).map((a) => a.id)).toEqual([
      'other@w1',
    ]);
    expect(fx.events.some((e) => e.type === 'agent.status' && e.agentId === 'cc@w1')).toBe(true);

    const later = now + 61_000;
    expect(availability.check('cc', later)).toEqual({ ended: true });
    await fx.service.heartbeat('cc@w1', {
      load: 0,
      status: availability.status('cc', 0, 1, later),
    });
    expect((await fx.service.find({ capability: 'review' })).map((a) => a.id).sort()).toEqual([
      'cc@w1',
      'other@w1',
    ]);
  });
});
