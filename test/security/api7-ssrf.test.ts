/**
 * OWASP API7:2023, server-side request forgery: an `http` agent's URL is checked after DNS
 * resolution, and every spelling of a metadata, loopback or private address is classified as the
 * address it reaches (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo, decimal and hex IPv4).
 */
import { createServer, type Server } from 'node:http';
import { HttpExecutor } from '../../src/worker/executors/http.executor';
import { agentDef, execContext, testExecutorOptions } from '../support/worker-fixtures';

describe('API7 SSRF through http agents', () => {
  let server: Server;
  let hits = 0;
  let port: number;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      hits++;
      res.setHeader('content-type', 'application/json');
      res.end('{"reached":true}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const strict = testExecutorOptions({
    httpAllowPrivate: false,
    httpAllowLoopback: false,
    httpAllowLinkLocal: false,
  });
  const run = async (url: string, options = strict) => {
    const agent = agentDef({ name: 'h', executor: 'http', url });
    return new HttpExecutor(url, options).execute(
      { taskId: 't', attempt: 0, capability: 'h', payload: null, timeoutMs: 5000 },
      execContext(agent),
    );
  };

  it.each([
    'http://169.254.169.254/latest/meta-data/',
    'http://[::ffff:169.254.169.254]/',
    'http://[::a9fe:a9fe]/',
    'http://[64:ff9b::a9fe:a9fe]/',
    'http://[2002:a9fe:a9fe::1]/',
    'http://2852039166/',
    'http://0xa9fea9fe/',
  ])('refuses the metadata service spelled %s', async (url) => {
    const r = await run(url);
    expect(r).toMatchObject({ ok: false, error: { type: 'refused_address' } });
  });

  it.each([
    '127.0.0.1',
    '[::1]',
    '[::ffff:127.0.0.1]',
    '[::7f00:1]',
    '[2002:7f00:1::]',
    'localhost',
  ])(
    'refuses loopback %s when WORKER_HTTP_ALLOW_LOOPBACK=false, and never reaches it',
    async (host) => {
      const before = hits;
      const r = await run(`http://${host}:${port}/`);
      expect(r).toMatchObject({ ok: false, error: { type: 'refused_address' } });
      expect(hits).toBe(before);
    },
  );

  it('reaches loopback only when the rules allow it', async () => {
    const r = await run(
      `http://127.0.0.1:${port}/`,
      testExecutorOptions({ httpAllowLoopback: true }),
    );
    expect(r).toMatchObject({ ok: true, output: { reached: true } });
  });
});
