import { AgentStatus } from '../discovery/agent-record.type';
import { AgentAvailability } from './agent-availability';

describe('AgentAvailability', () => {
  const now = Date.parse('2026-12-01T14:00:00Z');
  const at = (iso: string) => ({ retryAt: iso });

  it('takes an agent offline until the retry time of its rate_limited failure, then back', () => {
    const a = new AgentAvailability();
    expect(a.status('cc', 0, 1, now)).toBe(AgentStatus.Available);
    expect(a.markLimited('cc', 'usage limit', at('2026-12-01T15:00:00Z'), now)).toEqual({
      until: Date.parse('2026-12-01T15:00:00Z'),
      reason: 'usage limit',
    });
    expect(a.status('cc', 0, 1, now)).toBe(AgentStatus.Offline);
    expect(a.status('other', 1, 1, now)).toBe(AgentStatus.Busy);
    expect(a.check('cc', now).unavailable?.reason).toBe('usage limit');
    const later = Date.parse('2026-12-01T15:00:01Z');
    expect(a.check('cc', later)).toEqual({ ended: true });
    expect(a.status('cc', 0, 1, later)).toBe(AgentStatus.Available);
    expect(a.check('cc', later)).toEqual({});
  });

  it('only extends, and ignores failures without a future retryAt', () => {
    const a = new AgentAvailability();
    expect(a.markLimited('cc', 'x', at('2026-12-01T15:00:00Z'), now)).toBeDefined();
    expect(a.markLimited('cc', 'y', at('2026-12-01T14:30:00Z'), now)).toBeUndefined();
    expect(a.markLimited('cc', 'z', at('2026-12-01T16:00:00Z'), now)?.reason).toBe('z');
    expect(a.markLimited('dd', 'past', at('2026-12-01T13:00:00Z'), now)).toBeUndefined();
    expect(a.markLimited('dd', 'none', undefined, now)).toBeUndefined();
    expect(a.markLimited('dd', 'bad', at('soon'), now)).toBeUndefined();
  });
});
