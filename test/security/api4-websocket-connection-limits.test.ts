/**
 * OWASP API4:2023 (unrestricted resource consumption) on the live feed: sockets that have not
 * authenticated have their own small cap and a short deadline, and every address has caps, so
 * a flood of token-less sockets never locks out viewers.
 */
import { LiveTestClient } from '../support/live-client';
import { startSecurityApp, TOKENS, type SecurityApp } from './support/security-app';

describe('API4 live feed connection limits', () => {
  let t: SecurityApp;
  let url: string;
  const clients: LiveTestClient[] = [];
  beforeAll(async () => {
    t = await startSecurityApp({
      LIVE_MAX_CLIENTS: '20',
      LIVE_MAX_UNAUTHENTICATED: '4',
      LIVE_MAX_UNAUTHENTICATED_PER_IP: '3',
      LIVE_MAX_CLIENTS_PER_IP: '10',
      LIVE_AUTH_TIMEOUT_MS: '1500',
    });
    await t.app.listen(0, '127.0.0.1');
    const address = t.app.getHttpServer().address() as { port: number };
    url = `http://127.0.0.1:${address.port}`;
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(() => t.destroy());

  const open = async (token?: string, query?: string) => {
    const c = await LiveTestClient.connect(url, { token, query });
    clients.push(c);
    return c;
  };

  it('20 sockets without a token do not lock out a viewer', async () => {
    const anonymous = await Promise.all(Array.from({ length: 20 }, () => open()));
    // Only LIVE_MAX_UNAUTHENTICATED_PER_IP of them are kept; the rest are closed with 1013.
    await Promise.all(
      anonymous.slice(3).map(async (c) => expect((await c.waitClosed()).code).toBe(1013)),
    );
    const viewer = await open(TOKENS.viewer);
    expect(await viewer.first('welcome')).toMatchObject({ role: 'viewer' });
    // The pending ones are closed at the (short) auth deadline.
    for (const c of anonymous.slice(0, 3)) {
      expect((await c.waitClosed(5000)).code).toBe(4401);
    }
  });

  it('a socket that authenticates with its first message is welcomed', async () => {
    const c = await open();
    await c.first('auth_required');
    c.send({ type: 'auth', token: TOKENS.viewer });
    expect(await c.first('welcome')).toMatchObject({ role: 'viewer' });
  });

  it('caps the connections of one address', async () => {
    const many = await Promise.all(Array.from({ length: 10 }, () => open(TOKENS.viewer)));
    await Promise.all(many.map((c) => c.first('welcome')));
    const extra = await open(TOKENS.viewer);
    expect(await extra.waitClosed()).toEqual({
      code: 1013,
      reason: expect.stringContaining('LIVE_MAX_CLIENTS_PER_IP'),
    });
  });
});
