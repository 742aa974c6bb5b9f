import request from 'supertest';
import { auth, startTestApp, type TestApp } from '../support/test-app';
import { deletePrefix } from '../support/redis-cleanup';

describe('control plane skeleton (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ HTTP_BODY_LIMIT_BYTES: '2048' });
  });

  afterAll(async () => {
    await t.close();
    await deletePrefix(t.prefix);
  });

  it('answers liveness and readiness without a token', async () => {
    await request(t.server).get('/health/live').expect(200);
    const ready = await request(t.server).get('/health/ready').expect(200);
    expect(ready.body.checks.redis.status).toBe('up');
  });

  it('serves Prometheus metrics with process metrics', async () => {
    const res = await request(t.server).get('/metrics').expect(200);
    expect(res.text).toContain('process_cpu_user_seconds_total');
  });

  it('serves the OpenAPI spec and Swagger UI', async () => {
    const spec = await request(t.server).get('/docs-json').expect(200);
    expect(spec.body.info.title).toBe('Switchyard');
    await request(t.server)
      .get('/docs')
      .expect((r) => expect([200, 301, 302]).toContain(r.status));
  });

  it('answers unknown routes with 404 in the error shape, with a request id', async () => {
    const res = await request(t.server).get('/v1/nope').set(auth()).expect(404);
    expect(res.body.error.code).toBe('NOT_FOUND');
    expect(typeof res.body.error.requestId).toBe('string');
    expect(res.headers['x-request-id']).toBe(res.body.error.requestId);
  });

  it('echoes a sane caller request id', async () => {
    const res = await request(t.server)
      .get('/v1/nope')
      .set(auth())
      .set('x-request-id', 'abc-123')
      .expect(404);
    expect(res.body.error.requestId).toBe('abc-123');
  });

  it('refuses /v1 without a token, and with a wrong one', async () => {
    const none = await request(t.server).get('/v1/whoami').expect(401);
    expect(none.body.error.code).toBe('UNAUTHENTICATED');
    await request(t.server).get('/v1/whoami').set(auth('wrong-token-wrong-token')).expect(401);
    const me = await request(t.server).get('/v1/whoami').set(auth()).expect(200);
    expect(me.body).toEqual({ name: 'admin', role: 'admin' });
  });

  it('answers oversized bodies with 413 and malformed JSON with 400', async () => {
    const big = await request(t.server)
      .post('/v1/nope')
      .set(auth())
      .set('content-type', 'application/json')
      .send(JSON.stringify({ x: 'y'.repeat(4096) }))
      .expect(413);
    expect(big.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    const bad = await request(t.server)
      .post('/v1/nope')
      .set(auth())
      .set('content-type', 'application/json')
      .send('{"x":')
      .expect(400);
    expect(bad.body.error.code).toBe('BAD_REQUEST');
    expect(JSON.stringify(bad.body)).not.toMatch(/at .*\.js:\d+/);
  });
});
