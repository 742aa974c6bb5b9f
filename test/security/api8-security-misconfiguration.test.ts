/**
 * OWASP API8:2023, security misconfiguration: public/private switches decided on the matched
 * route (not a spelling of the URL), parser and framework errors in the documented shape without
 * echoing input, bounded parsing (depth, slow bodies), no internals on public endpoints.
 */
import { connect } from 'node:net';
import request from 'supertest';
import { startSecurityApp, TOKENS, type SecurityApp } from './support/security-app';

describe('API8 security misconfiguration', () => {
  let t: SecurityApp;
  let port: number;
  beforeAll(async () => {
    t = await startSecurityApp({ DOCS_REQUIRE_AUTH: 'true', HTTP_REQUEST_TIMEOUT_MS: '1500' });
    await t.app.listen(0, '127.0.0.1');
    port = (t.app.getHttpServer().address() as { port: number }).port;
  });
  afterAll(() => t.destroy());
  const admin = `Bearer ${TOKENS.admin}`;

  const expectErrorShape = (res: request.Response, status: number, code: string) => {
    expect(res.status).toBe(status);
    expect(res.body).toEqual({
      error: expect.objectContaining({ code, message: expect.any(String) }),
    });
  };

  it('DOCS_REQUIRE_AUTH holds for every spelling of the docs URL', async () => {
    for (const path of [
      '/docs-json',
      '/%64ocs-json',
      '/d%6fcs-json',
      '/docs-yaml',
      '/%64ocs-yaml',
      '/docs',
      '/%64ocs',
      '/docs/',
      '/%64ocs/',
      '/docs/swagger-ui-init.js',
    ]) {
      const res = await request(t.server).get(path);
      expect([path, res.status]).toEqual([path, 401]);
    }
    await request(t.server).get('/%64ocs-json').set('Authorization', admin).expect(200);
  });

  it('status page assets are looked up by own keys only (no 500 for inherited names)', async () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const res = await request(t.server).get(`/status-page/${name}`);
      expectErrorShape(res, 404, 'NOT_FOUND');
    }
  });

  it('bad UTF-8 / percent-encoding and oversized headers answer in the error shape, URL not echoed', async () => {
    const bad = await request(t.server).get('/v1/tasks/%ff%fe-marker').set('Authorization', admin);
    expectErrorShape(bad, 400, 'BAD_REQUEST');
    expect(JSON.stringify(bad.body)).not.toContain('marker');
    const long = await request(t.server)
      .get(`/v1/tasks/${'m'.repeat(100_000)}`)
      .set('Authorization', admin);
    expectErrorShape(long, 431, 'HEADERS_TOO_LARGE');
    expect(long.text).not.toContain('mmmm');
  });

  it('application/merge-patch+json only on state PATCH, through the safe parser', async () => {
    const tasks = await request(t.server)
      .post('/v1/tasks')
      .set('Authorization', admin)
      .set('content-type', 'application/merge-patch+json')
      .send('{"capability":"x"}');
    expectErrorShape(tasks, 415, 'UNSUPPORTED_MEDIA_TYPE');
    const proto = await request(t.server)
      .patch('/v1/state/sec/doc')
      .set('Authorization', admin)
      .set('content-type', 'application/merge-patch+json')
      .send('{"a":1,"__proto__":{"polluted":true}}');
    expectErrorShape(proto, 400, 'BAD_REQUEST');
    const ok = await request(t.server)
      .patch('/v1/state/sec/doc')
      .set('Authorization', admin)
      .set('content-type', 'application/merge-patch+json')
      .send('{"a":1}');
    expect(ok.status).toBe(200);
    const json = await request(t.server)
      .post('/v1/tasks')
      .set('Authorization', admin)
      .set('content-type', 'application/json')
      .send('{"capability":"x","payload":{"constructor":{"prototype":{"p":1}}}}');
    expectErrorShape(json, 400, 'BAD_REQUEST');
  });

  it('JSON nested deeper than HTTP_MAX_JSON_DEPTH is a 400, however deep', async () => {
    for (const depth of [65, 10_000, 200_000]) {
      const res = await request(t.server)
        .post('/v1/tasks')
        .set('Authorization', admin)
        .set('content-type', 'application/json')
        .send(`{"capability":"x","payload":${'['.repeat(depth)}${']'.repeat(depth)}}`);
      expectErrorShape(res, 400, 'BAD_REQUEST');
      expect(res.body.error.message).toMatch(/deeper than 64/);
    }
  });

  it('a slow body is cut off with 408 in the error shape', async () => {
    const started = Date.now();
    const response = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let text = '';
      socket.on('data', (d) => (text += d.toString('utf8')));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      socket.write(
        `POST /v1/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: ${admin}\r\n` +
          'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"capa',
      );
      // ...and never the rest.
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(response).toMatch(/^HTTP\/1\.1 408/);
    expect(response).toContain('"code":"REQUEST_TIMEOUT"');
  });

  it('/health/ready shows paths and error text only to authenticated callers', async () => {
    const anonymous = await request(t.server).get('/health/ready').expect(200);
    const withToken = await request(t.server)
      .get('/health/ready')
      .set('Authorization', admin)
      .expect(200);
    const store = withToken.body.checks['state-store'] as Record<string, unknown>;
    expect(JSON.stringify(store)).toMatch(/\//); // a location, for operators
    expect(JSON.stringify(anonymous.body)).not.toMatch(/file:|\/tmp|\/work/);
    expect(anonymous.body.checks['state-store'].status).toBe(store.status);
  });

  it('a task id must start with a letter or digit (`..` is refused)', async () => {
    for (const id of ['..', '.', '.hidden', '-x']) {
      const res = await request(t.server)
        .get(`/v1/tasks/${encodeURIComponent(id)}`)
        .set('Authorization', admin);
      expectErrorShape(res, 400, 'VALIDATION_FAILED');
    }
    const submit = await request(t.server)
      .post('/v1/tasks')
      .set('Authorization', admin)
      .send({ id: '..', capability: 'x' });
    expectErrorShape(submit, 400, 'VALIDATION_FAILED');
  });
});
