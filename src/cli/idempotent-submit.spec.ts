import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient } from './api-client';
import { CliError } from './cli-error';
import { submitIdempotent } from './idempotent-submit';

interface Seen {
  header?: string;
  body: Record<string, unknown>;
}

/** A stand-in Switchyard: answers each POST with the next status of `statuses`. */
async function fakeServer(
  statuses: number[],
): Promise<{ server: Server; url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let text = '';
    req.on('data', (d: Buffer) => (text += d.toString('utf8')));
    req.on('end', () => {
      seen.push({
        header: req.headers['idempotency-key'] as string | undefined,
        body: JSON.parse(text) as Record<string, unknown>,
      });
      const status = statuses[Math.min(seen.length - 1, statuses.length - 1)];
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        status === 201
          ? JSON.stringify({ id: 't1', status: 'READY' })
          : JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'redis is down' } }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { server, url: `http://127.0.0.1:${port}`, seen };
}

describe('submitIdempotent (against a local HTTP server)', () => {
  const servers: Server[] = [];
  afterEach(() => servers.splice(0).forEach((s) => s.close()));

  it('always sends a key (a new UUID) in the header and the body', async () => {
    const { server, url, seen } = await fakeServer([201]);
    servers.push(server);
    const created = await submitIdempotent<{ id: string }>(new ApiClient({ url }), '/v1/tasks', {
      capability: 'x',
    });
    expect(created.id).toBe('t1');
    expect(seen).toHaveLength(1);
    expect(seen[0].header).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[0].body).toEqual({ capability: 'x', idempotencyKey: seen[0].header });
  });

  it("keeps the user's key (flag over body) and retries a 503 with the same key", async () => {
    const { server, url, seen } = await fakeServer([503, 503, 201]);
    servers.push(server);
    const warnings: string[] = [];
    await submitIdempotent(
      new ApiClient({ url }),
      '/v1/workflows',
      { tasks: [], idempotencyKey: 'from-body' },
      'from-flag',
      (l) => warnings.push(l),
      1,
    );
    expect(seen.map((s) => [s.header, s.body.idempotencyKey])).toEqual([
      ['from-flag', 'from-flag'],
      ['from-flag', 'from-flag'],
      ['from-flag', 'from-flag'],
    ]);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('retrying with Idempotency-Key from-flag');
  });

  it('gives up after 4 tries naming the key to retry with; a 400 is not retried', async () => {
    const down = await fakeServer([503]);
    servers.push(down.server);
    const err = await submitIdempotent(
      new ApiClient({ url: down.url }),
      '/v1/tasks',
      { idempotencyKey: 'k1' },
      undefined,
      () => undefined,
      1,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).message).toContain('--idempotency-key k1');
    expect(down.seen).toHaveLength(4);

    const bad = await fakeServer([400]);
    servers.push(bad.server);
    await expect(
      submitIdempotent(new ApiClient({ url: bad.url }), '/v1/tasks', {}, 'k2', () => undefined, 1),
    ).rejects.toBeInstanceOf(CliError);
    expect(bad.seen).toHaveLength(1);
  });
});
