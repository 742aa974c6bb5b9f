/**
 * Redis must not evict queue data. Given the server's `maxmemory-policy` and the explicit
 * override (REDIS_ALLOW_EVICTION), says whether the queue may start: `ok`, `warn` (override
 * used: start, but log `message`), or `refuse` (do not start; `message` says what to do).
 */
export function evictionPolicyVerdict(
  policy: string | undefined,
  allowEviction: boolean,
): { verdict: 'ok' | 'warn' | 'refuse'; message?: string } {
  if (policy === undefined || policy === 'noeviction') return { verdict: 'ok' };
  const message =
    `Redis maxmemory-policy is '${policy}': Redis may evict task records and queue jobs, ` +
    `losing tasks. Set it to 'noeviction' (CONFIG SET maxmemory-policy noeviction, or ` +
    `maxmemory-policy noeviction in redis.conf)`;
  if (allowEviction) {
    return {
      verdict: 'warn',
      message: `${message}. Starting anyway because REDIS_ALLOW_EVICTION=true.`,
    };
  }
  return {
    verdict: 'refuse',
    message: `${message}, or set REDIS_ALLOW_EVICTION=true to start anyway.`,
  };
}
