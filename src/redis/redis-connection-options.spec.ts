import { describeTarget, targetOptions } from './redis-connection-options';

const base = { sentinels: [], sentinelTls: false };

describe('targetOptions', () => {
  it('uses REDIS_URL as it is without Sentinels', () => {
    expect(targetOptions({ ...base, url: 'redis://h:1/2' })).toEqual({
      url: 'redis://h:1/2',
      options: {},
    });
  });

  it('asks the Sentinels for the master and keeps the credentials, db and TLS of REDIS_URL', () => {
    const { url, options } = targetOptions({
      url: 'rediss://app:s%40cret@ignored:6379/3',
      sentinels: [{ host: '::1', port: 26379 }],
      sentinelName: 'mymaster',
      sentinelPassword: 'sp',
      sentinelTls: true,
    });
    expect(url).toBeUndefined();
    expect(options).toMatchObject({
      sentinels: [{ host: '::1', port: 26379 }],
      name: 'mymaster',
      role: 'master',
      sentinelPassword: 'sp',
      sentinelTLS: {},
      username: 'app',
      password: 's@cret',
      db: 3,
      tls: {},
      enableTLSForSentinelMode: true,
      failoverDetector: true,
    });
    const reconnect = options.reconnectOnError as (e: Error) => boolean | 1 | 2;
    expect(reconnect(new Error("READONLY You can't write against a read only replica."))).toBe(2);
    expect(reconnect(new Error('ERR wrong number of arguments'))).toBe(false);
    expect(
      describeTarget({
        ...base,
        url: '',
        sentinels: [{ host: '::1', port: 1 }],
        sentinelName: 'm',
      }),
    ).toBe("master 'm' of Sentinels [::1]:1");
  });
});
