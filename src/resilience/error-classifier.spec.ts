import { defaultErrorClassifier } from './error-classifier';

describe('defaultErrorClassifier', () => {
  const named = (name: string) => Object.assign(new Error('x'), { name });

  it('does not count timeouts by default (seed): TimeoutError, ETIMEDOUT, task errors of type timeout', () => {
    const counts = defaultErrorClassifier({ countTimeouts: false });
    expect(counts(named('TimeoutError'))).toBe(false);
    expect(counts(Object.assign(new Error('x'), { code: 'ETIMEDOUT' }))).toBe(false);
    expect(counts({ type: 'timeout', message: 'x', retryable: true })).toBe(false);
    expect(counts(new Error('boom'))).toBe(true);
    expect(counts('a string')).toBe(true);
    expect(counts(undefined)).toBe(true);
  });

  it('counts timeouts when asked to, and skips extra names or codes', () => {
    const counts = defaultErrorClassifier({ countTimeouts: true, excluded: ['NotFound', 'EBUSY'] });
    expect(counts(named('TimeoutError'))).toBe(true);
    expect(counts(named('NotFound'))).toBe(false);
    expect(counts(Object.assign(new Error('x'), { code: 'EBUSY' }))).toBe(false);
  });
});
