/**
 * OWASP API2:2023, broken authentication: every role authenticates through the same bearer
 * check, failed attempts are limited per address (REST and WebSocket) and counted, placeholder
 * and short tokens are refused at boot, and tokens in query strings never reach the logs.
 */
import request from 'supertest';
import { hashToken } from '../../src/auth/api-key.service';
import { loadConfig } from '../../src/config/load-config';
import { ConfigService } from '../../src/config/config.service';
import { loggerParams, redactUrl } from '../../src/observability/logging';
import { LiveTestClient } from '../support/live-client';
import { startTestApp } from '../support/test-app';
import { AGENT_ID, startSecurityApp, TOKENS, type SecurityApp } from './support/security-app';

describe('API2 broken authentication', () => {
  describe('with a token of every role', () => {
    let t: SecurityApp;
    beforeAll(async () => {
      t = await startSecurityApp({ AUTH_FAILURE_LIMIT: '5', AUTH_FAILURE_WINDOW_SECONDS: '60' });
      await t.app.listen(0, '127.0.0.1');
    });
    afterAll(() => t.destroy());

    it('GET /v1/whoami answers every role, agent tokens included', async () => {
      for (const [name, role] of [
        ['admin', 'admin'],
        ['operator', 'operator'],
        ['viewer', 'viewer'],
        ['agent', 'agent'],
      ] as const) {
        const res = await t.as(name).get('/v1/whoami').expect(200);
        expect(res.body.role).toBe(role);
        if (name === 'agent') expect(res.body.agentId).toBe(AGENT_ID);
      }
    });

    it('limits failed authentications per address (REST and WebSocket) and counts them', async () => {
      for (let i = 0; i < 5; i++) {
        await request(t.server)
          .get('/v1/tasks')
          .set('Authorization', 'Bearer wrong-token-0123456789')
          .expect(401);
      }
      const limited = await request(t.server)
        .get('/v1/tasks')
        .set('Authorization', 'Bearer wrong-token-0123456789')
        .expect(429);
      expect(limited.body.error).toMatchObject({ code: 'TOO_MANY_REQUESTS' });
      // While limited, even a valid token from that address waits: guesses cannot be confirmed.
      await t.as('admin').get('/v1/tasks').expect(429);

      const address = t.app.getHttpServer().address() as { port: number };
      const ws = await LiveTestClient.connect(`http://127.0.0.1:${address.port}`, {
        token: TOKENS.viewer,
      });
      expect((await ws.waitClosed()).code).toBe(4401);

      const metrics = await request(t.server).get('/metrics').expect(200);
      expect(metrics.text).toMatch(
        /auth_failures_total\{transport="http",outcome="rejected"\} [1-9]/,
      );
      expect(metrics.text).toMatch(
        /auth_failures_total\{transport="http",outcome="rate_limited"\} [1-9]/,
      );
      expect(metrics.text).toMatch(
        /auth_failures_total\{transport="ws",outcome="rate_limited"\} [1-9]/,
      );
    });
  });

  it('refuses the .env.example placeholder and tokens under 16 characters at boot', () => {
    expect(() =>
      loadConfig({ SWITCHYARD_ADMIN_TOKEN: 'change-me-to-a-long-random-secret' }),
    ).toThrow(/SWITCHYARD_ADMIN_TOKEN.*placeholder/s);
    expect(() => loadConfig({ SWITCHYARD_ADMIN_TOKEN: 'short-token' })).toThrow(
      /SWITCHYARD_ADMIN_TOKEN.*16/s,
    );
  });

  it('refuses an API key that is the hash of a placeholder token', async () => {
    const keys = JSON.stringify([
      { name: 'ci', role: 'operator', sha256: hashToken('change-me-to-a-long-random-secret') },
    ]);
    await expect(startTestApp({ SWITCHYARD_API_KEYS: keys })).rejects.toThrow(/placeholder/);
  });

  it('never writes a query-string token into the request log', () => {
    expect(redactUrl('/v1/live?token=s3cr3t&x=1')).toBe('/v1/live?token=[redacted]&x=[redacted]');
    const params = loggerParams(new ConfigService(loadConfig({})));
    const pinoHttp = params.pinoHttp as {
      serializers: { req: (r: { id: string; method: string; url: string }) => { url: string } };
    };
    const logged = pinoHttp.serializers.req({
      id: '1',
      method: 'GET',
      url: '/v1/tasks?access_token=s3cr3t-token-value',
    });
    expect(JSON.stringify(logged)).not.toContain('s3cr3t');
  });
});
