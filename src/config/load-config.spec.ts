import { ConfigValidationError, loadConfig, renderEnvExample } from './load-config';

describe('loadConfig', () => {
  it('gives working local defaults with an empty environment', () => {
    const c = loadConfig({});
    expect(c.http.port).toBe(3000);
    expect(c.redis.url).toBe('redis://127.0.0.1:6379');
    expect(c.bus.amqpUrl).toBe('amqp://guest:guest@127.0.0.1:5672');
    expect(c.auth.adminToken).toBeUndefined();
  });

  it('coerces numbers and booleans', () => {
    const c = loadConfig({ PORT: '8080', DOCS_ENABLED: 'no', LOG_PRETTY: '1' });
    expect(c.http.port).toBe(8080);
    expect(c.http.docsEnabled).toBe(false);
    expect(c.logging.pretty).toBe(true);
  });

  it('names every bad variable in one error', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'eighty', REDIS_URL: 'not a url', DOCS_ENABLED: 'maybe' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigValidationError);
    const msg = (err as Error).message;
    expect(msg).toContain('PORT');
    expect(msg).toContain('REDIS_URL');
    expect(msg).toContain('DOCS_ENABLED');
    expect((err as ConfigValidationError).problems).toHaveLength(3);
  });

  it('rejects a short admin token', () => {
    expect(() => loadConfig({ SWITCHYARD_ADMIN_TOKEN: 'short' })).toThrow(/SWITCHYARD_ADMIN_TOKEN/);
  });

  it('renders .env.example with every variable and no secret values', () => {
    const text = renderEnvExample();
    expect(text).toContain('REDIS_URL=redis://127.0.0.1:6379');
    expect(text).toContain('SWITCHYARD_ADMIN_TOKEN=');
    expect(text).not.toMatch(/guest:guest@.*secret/);
  });

  describe('RabbitMQ cluster settings', () => {
    it('reads AMQP_URLS as a list of node URLs and AMQP_QUEUE_TYPE (classic by default)', () => {
      expect(loadConfig({}).bus.queueType).toBe('classic');
      expect(loadConfig({}).bus.amqpUrls).toBeUndefined();
      const c = loadConfig({
        AMQP_URLS: ' amqp://u:p@r1:5672, amqp://u:p@r2:5673 ,amqps://u:p@r3',
        AMQP_QUEUE_TYPE: 'quorum',
      });
      expect(c.bus.amqpUrls).toEqual([
        'amqp://u:p@r1:5672',
        'amqp://u:p@r2:5673',
        'amqps://u:p@r3',
      ]);
      expect(c.bus.queueType).toBe('quorum');
    });

    it('refuses AMQP_URLS together with AMQP_URL, naming both', () => {
      expect(() =>
        loadConfig({ AMQP_URLS: 'amqp://r1:5672,amqp://r2:5672', AMQP_URL: 'amqp://r1:5672' }),
      ).toThrow(/AMQP_URLS: AMQP_URLS and AMQP_URL are both set; set only one/);
    });

    it('refuses a node that is not an amqp(s) URL and an unknown queue type', () => {
      let err: unknown;
      try {
        loadConfig({ AMQP_URLS: 'amqp://r1:5672,http://r2:5672', AMQP_QUEUE_TYPE: 'stream' });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigValidationError);
      const problems = (err as ConfigValidationError).problems;
      expect(problems.map((p) => p.env).sort()).toEqual(['AMQP_QUEUE_TYPE', 'AMQP_URLS']);
      expect(problems.find((p) => p.env === 'AMQP_URLS')?.message).toMatch(/amqp:\/\//);
    });
  });
});
