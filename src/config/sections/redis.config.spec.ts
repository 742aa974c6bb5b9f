import { ConfigValidationError, loadConfig } from '../load-config';
import { minReplicasAck, parseSentinelAddress } from './redis.config';

const problemsOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigValidationError) return e.problems;
    throw e;
  }
  return [];
};

describe('Redis Sentinel settings', () => {
  it('parses host:port, a bare host (port 26379) and [IPv6]:port', () => {
    expect(parseSentinelAddress('s1.example:26380')).toEqual({ host: 's1.example', port: 26380 });
    expect(parseSentinelAddress('10.0.0.7')).toEqual({ host: '10.0.0.7', port: 26379 });
    expect(parseSentinelAddress('[::1]:5000')).toEqual({ host: '::1', port: 5000 });
    expect(parseSentinelAddress('[fe80::1]')).toEqual({ host: 'fe80::1', port: 26379 });
    expect(parseSentinelAddress('::1:5000')).toBeUndefined(); // IPv6 needs brackets
    expect(parseSentinelAddress('host:0')).toBeUndefined();
    expect(parseSentinelAddress('host:70000')).toBeUndefined();
    expect(parseSentinelAddress('redis://host:1')).toBeUndefined();
  });

  it('reads the list, the name and turns WAIT on (1 replica) by default with Sentinels', () => {
    const c = loadConfig({
      REDIS_SENTINELS: 'a:26379, b:26380 ,[::1]:26381',
      REDIS_SENTINEL_NAME: 'mymaster',
      REDIS_SENTINEL_TLS: 'yes',
    });
    expect(c.redis.sentinels).toEqual([
      { host: 'a', port: 26379 },
      { host: 'b', port: 26380 },
      { host: '::1', port: 26381 },
    ]);
    expect(c.redis.sentinelTls).toBe(true);
    expect(minReplicasAck(c.redis)).toBe(1);
    expect(c.redis.waitTimeoutMs).toBe(1000);
  });

  it('keeps WAIT off without Sentinels unless asked for, and lets 0 turn it off with them', () => {
    expect(minReplicasAck(loadConfig({}).redis)).toBe(0);
    expect(minReplicasAck(loadConfig({ REDIS_MIN_REPLICAS_ACK: '2' }).redis)).toBe(2);
    const off = loadConfig({
      REDIS_SENTINELS: 'a:1',
      REDIS_SENTINEL_NAME: 'm',
      REDIS_MIN_REPLICAS_ACK: '0',
    });
    expect(minReplicasAck(off.redis)).toBe(0);
  });

  it('names the bad entry, the missing master name and a WAIT timeout above the command timeout', () => {
    expect(problemsOf({ REDIS_SENTINELS: 'a:1,not a host', REDIS_SENTINEL_NAME: 'm' })).toEqual([
      { env: 'REDIS_SENTINELS', message: expect.stringContaining("'not a host'") as string },
    ]);
    expect(problemsOf({ REDIS_SENTINELS: 'a:1' })).toEqual([
      { env: 'REDIS_SENTINEL_NAME', message: expect.stringContaining('required') as string },
    ]);
    expect(problemsOf({ REDIS_MIN_REPLICAS_ACK: '-1' })[0]?.env).toBe('REDIS_MIN_REPLICAS_ACK');
    expect(
      problemsOf({ REDIS_MIN_REPLICAS_ACK: '1', REDIS_WAIT_TIMEOUT_MS: '2000' }).map((p) => p.env),
    ).toEqual(['REDIS_WAIT_TIMEOUT_MS']);
    // Irrelevant (and accepted) while WAIT is off.
    expect(problemsOf({ REDIS_WAIT_TIMEOUT_MS: '5000' })).toEqual([]);
  });
});
