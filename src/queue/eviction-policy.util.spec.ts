import { evictionPolicyVerdict } from './eviction-policy.util';

describe('evictionPolicyVerdict', () => {
  it('starts with noeviction (or when the policy cannot be read)', () => {
    expect(evictionPolicyVerdict('noeviction', false)).toEqual({ verdict: 'ok' });
    expect(evictionPolicyVerdict(undefined, false)).toEqual({ verdict: 'ok' });
  });

  it('refuses any evicting policy with a message saying how to fix it', () => {
    const v = evictionPolicyVerdict('allkeys-lru', false);
    expect(v.verdict).toBe('refuse');
    expect(v.message).toMatch(/allkeys-lru/);
    expect(v.message).toMatch(/noeviction/);
    expect(v.message).toMatch(/REDIS_ALLOW_EVICTION=true/);
  });

  it('starts with a warning when explicitly overridden', () => {
    const v = evictionPolicyVerdict('volatile-lru', true);
    expect(v.verdict).toBe('warn');
    expect(v.message).toMatch(/Starting anyway/);
  });
});
