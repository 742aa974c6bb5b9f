import { AppException } from '../errors/app.exception';
import { applyIdempotencyKeyHeader, idempotencyKeyFromHeader } from './idempotency-key.header';

describe('Idempotency-Key header', () => {
  it('reads a key, or undefined when the header is absent', () => {
    expect(idempotencyKeyFromHeader(undefined)).toBeUndefined();
    expect(idempotencyKeyFromHeader(' k-1 ')).toBe('k-1');
  });

  it('refuses an empty, too long or repeated header with a 400 naming it', () => {
    for (const bad of ['', 'x'.repeat(257), ['a', 'b']]) {
      expect(() => idempotencyKeyFromHeader(bad)).toThrow(AppException);
    }
    expect(() => idempotencyKeyFromHeader('')).toThrow(/Idempotency-Key/);
  });

  it('puts the header key in the body; the same key twice is fine; two different keys are refused', () => {
    const body: { capability: string; idempotencyKey?: string } = { capability: 'x' };
    expect(applyIdempotencyKeyHeader(body, 'k')).toEqual({
      capability: 'x',
      idempotencyKey: 'k',
    });
    expect(applyIdempotencyKeyHeader({ idempotencyKey: 'k' }, 'k')).toEqual({
      idempotencyKey: 'k',
    });
    expect(applyIdempotencyKeyHeader({ idempotencyKey: 'b' }, undefined)).toEqual({
      idempotencyKey: 'b',
    });
    expect(() => applyIdempotencyKeyHeader({ idempotencyKey: 'b' }, 'k')).toThrow(/differ/);
  });
});
