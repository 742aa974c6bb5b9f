import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecutionRequest } from '../../../src/worker/executors/executor.types';
import { HttpExecutor } from '../../../src/worker/executors/http.executor';
import { agentDef, execContext, testExecutorOptions } from '../../support/worker-fixtures';

const request: ExecutionRequest = {
  taskId: 't-h',
  attempt: 1,
  capability: 'web',
  payload: { q: 'x' },
  inputs: {},
};

describe('HttpExecutor (local server)', () => {
  let server: http.Server;
  let base: string;
  let seen: { headers: http.IncomingHttpHeaders; body: unknown }[] = [];
  const sockets = new Set<import('node:net').Socket>();

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString()));
      req.on('end', () => {
        seen.push({ headers: req.headers, body: raw ? JSON.parse(raw) : undefined });
        switch (req.url) {
          case '/ok':
            res.setHeader('content-type', 'application/json');
            res.end(JSON.stringify({ echoed: JSON.parse(raw) }));
            return;
          case '/empty':
            res.statusCode = 204;
            res.end();
            return;
          case '/500':
            res.statusCode = 500;
            res.end('boom');
            return;
          case '/429':
            res.statusCode = 429;
            res.end();
            return;
          case '/403':
            res.statusCode = 403;
            res.end();
            return;
          case '/400':
            res.statusCode = 400;
            res.end('{"error":"bad"}');
            return;
          case '/redirect':
            res.statusCode = 302;
            res.setHeader('location', 'http://169.254.169.254/latest/meta-data/');
            res.end();
            return;
          case '/text':
            res.end('plain words');
            return;
          case '/huge':
            res.write('['); // streamed, no content-length
            for (let i = 0; i < 2000; i++) res.write('"' + 'y'.repeat(1000) + '",');
            res.end('0]');
            return;
          case '/hang':
            return; // never answers
          default:
            res.statusCode = 404;
            res.end();
        }
      });
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => {
    seen = [];
  });

  const run = (
    path: string,
    opts: Parameters<typeof testExecutorOptions>[0] = {},
    req = request,
  ) => {
    const agent = agentDef({ name: 'web', executor: 'http', url: `${base}${path}` });
    return new HttpExecutor(agent.url!, testExecutorOptions(opts)).execute(req, execContext(agent));
  };

  it('POSTs the task as JSON and returns the JSON body', async () => {
    const r = await run('/ok');
    expect(r).toMatchObject({
      ok: true,
      output: {
        echoed: { taskId: 't-h', attempt: 1, capability: 'web', payload: { q: 'x' }, inputs: {} },
      },
    });
    expect(seen[0].headers['content-type']).toBe('application/json');
    expect(seen[0].headers['idempotency-key']).toBe('t-h:1');
  });

  it('treats an empty 2xx body as a null output', async () => {
    expect(await run('/empty')).toMatchObject({ ok: true, output: null });
  });

  it('maps 5xx to a retryable upstream_error and 429 to retryable rate_limited', async () => {
    expect(await run('/500')).toMatchObject({
      ok: false,
      error: { type: 'upstream_error', retryable: true, details: { status: 500 } },
    });
    expect(await run('/429')).toMatchObject({
      ok: false,
      error: { type: 'rate_limited', retryable: true },
    });
  });

  it('maps 403 to auth, 400 to validation and 404 to not_found, none retryable', async () => {
    expect(await run('/403')).toMatchObject({
      ok: false,
      error: { type: 'auth', retryable: false },
    });
    expect(await run('/400')).toMatchObject({
      ok: false,
      error: { type: 'validation', retryable: false },
    });
    expect(await run('/nope')).toMatchObject({
      ok: false,
      error: { type: 'not_found', retryable: false },
    });
  });

  it('does not follow redirects (a redirect to the metadata service goes nowhere)', async () => {
    expect(await run('/redirect')).toMatchObject({
      ok: false,
      error: { type: 'http_status', details: { status: 302 } },
    });
  });

  it('fails with bad_output on a non-JSON body', async () => {
    expect(await run('/text')).toMatchObject({ ok: false, error: { type: 'bad_output' } });
  });

  it('fails with output_too_large when the body passes the cap', async () => {
    expect(await run('/huge', { httpMaxResponseBytes: 50_000 })).toMatchObject({
      ok: false,
      error: { type: 'output_too_large', details: { limitBytes: 50_000 } },
    });
  });

  it('times out a server that never answers (retryable)', async () => {
    const started = Date.now();
    const r = await run('/hang', {}, { ...request, timeoutMs: 300 });
    expect(r).toMatchObject({ ok: false, error: { type: 'timeout', retryable: true } });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('fails with a retryable connection error when nothing listens', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const agent = agentDef({ name: 'web', executor: 'http', url: `http://127.0.0.1:${port}/` });
    const r = await new HttpExecutor(agent.url!, testExecutorOptions()).execute(
      request,
      execContext(agent),
    );
    expect(r).toMatchObject({
      ok: false,
      error: { type: 'connection', retryable: true, details: { code: 'ECONNREFUSED' } },
    });
  });

  it.each([
    ['http://169.254.169.254/latest/meta-data/', /metadata/],
    ['http://[fd00:ec2::254]/latest/meta-data/', /metadata/],
    ['http://169.254.10.20:8080/', /link-local/],
    ['http://[fe80::1]:8080/', /link-local/],
    ['http://[::ffff:169.254.169.254]/', /metadata/],
    ['http://0.0.0.0:8080/', /unspecified/],
  ])('refuses %s without connecting', async (url, reason) => {
    const agent = agentDef({ name: 'web', executor: 'http', url });
    const r = await new HttpExecutor(url, testExecutorOptions()).execute(
      request,
      execContext(agent),
    );
    expect(r).toMatchObject({ ok: false, error: { type: 'refused_address', retryable: false } });
    if (!r.ok) expect(r.error.message).toMatch(reason);
  });

  it('still refuses metadata addresses when link-local is allowed', async () => {
    const url = 'http://169.254.169.254/';
    const agent = agentDef({ name: 'web', executor: 'http', url });
    const r = await new HttpExecutor(
      url,
      testExecutorOptions({ httpAllowLinkLocal: true }),
    ).execute(request, execContext(agent));
    expect(r).toMatchObject({ ok: false, error: { type: 'refused_address' } });
  });

  it('checks the addresses a hostname resolves to (localhost refused when loopback is not allowed)', async () => {
    const url = base.replace('127.0.0.1', 'localhost') + '/ok';
    const agent = agentDef({ name: 'web', executor: 'http', url });
    const refused = await new HttpExecutor(
      url,
      testExecutorOptions({ httpAllowLoopback: false }),
    ).execute(request, execContext(agent));
    expect(refused).toMatchObject({ ok: false, error: { type: 'refused_address' } });
    if (!refused.ok) expect(refused.error.message).toMatch(/localhost resolves to .*loopback/);
    expect(seen).toHaveLength(0);
    const allowed = await new HttpExecutor(url, testExecutorOptions()).execute(
      request,
      execContext(agent),
    );
    expect(allowed).toMatchObject({ ok: true });
  });

  it('refuses private addresses when WORKER_HTTP_ALLOW_PRIVATE is off', async () => {
    const url = 'http://10.1.2.3:9/';
    const agent = agentDef({ name: 'web', executor: 'http', url });
    const r = await new HttpExecutor(url, testExecutorOptions({ httpAllowPrivate: false })).execute(
      request,
      execContext(agent),
    );
    expect(r).toMatchObject({ ok: false, error: { type: 'refused_address' } });
  });
});
