import {
  encodeTaskCredential,
  looksLikeTaskCredential,
  peekTaskCredential,
  verifyTaskCredential,
} from './task-credential.codec';

const key = Buffer.from('a-test-key-that-is-long-enough-0123456789');
const claims = {
  taskId: 't1',
  rootTaskId: 'r1',
  parentTaskId: 'p1',
  workflowId: 'w1',
  agentId: 'a@w',
  exp: 2_000_000_000,
};

describe('task credential codec', () => {
  it('round-trips the claims and verifies the signature', () => {
    const token = encodeTaskCredential(key, claims);
    expect(looksLikeTaskCredential(token)).toBe(true);
    expect(verifyTaskCredential(key, token, 1_000_000_000_000)).toEqual({ ok: true, claims });
    expect(peekTaskCredential(token)).toEqual(claims);
  });

  it('refuses another key, a changed claim and a changed signature', () => {
    const token = encodeTaskCredential(key, claims);
    expect(verifyTaskCredential(Buffer.from('another-key-0123456789'), token, 0)).toEqual({
      ok: false,
      reason: 'bad_signature',
    });
    const [prefix, body, sig] = token.split('.');
    const forgedBody = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), t: 'other' }),
    ).toString('base64url');
    expect(verifyTaskCredential(key, `${prefix}.${forgedBody}.${sig}`, 0).ok).toBe(false);
    expect(verifyTaskCredential(key, `${prefix}.${body}.${sig.slice(1)}x`, 0).ok).toBe(false);
  });

  it('refuses an expired credential and malformed tokens', () => {
    const token = encodeTaskCredential(key, { ...claims, exp: 100 });
    expect(verifyTaskCredential(key, token, 100_000)).toEqual({ ok: false, reason: 'expired' });
    expect(verifyTaskCredential(key, 'not-a-credential', 0)).toEqual({
      ok: false,
      reason: 'malformed',
    });
    expect(looksLikeTaskCredential('some-api-key')).toBe(false);
    expect(peekTaskCredential('syt1.%%%.x')).toBeUndefined();
  });
});
