import request from 'supertest';
import { hashToken } from '../../../src/auth/api-key.service';
import { Role } from '../../../src/auth/role.enum';
import type { Env } from '../../../src/config/load-config';
import { deletePrefix } from '../../support/redis-cleanup';
import { ADMIN_TOKEN, startTestApp, type TestApp } from '../../support/test-app';

/** One token per role (two agents, for cross-agent checks). */
export const TOKENS = {
  admin: ADMIN_TOKEN,
  operator: 'sec-operator-token-0123456789abcdef',
  viewer: 'sec-viewer-token-0123456789abcdef',
  agent: 'sec-agent-token-0123456789abcdef',
  otherAgent: 'sec-other-agent-token-0123456789',
} as const;
export type TokenName = keyof typeof TOKENS;

/** The agent ids the two agent tokens act for, and what their keys allow. */
export const AGENT_ID = 'sec-agent';
export const OTHER_AGENT_ID = 'sec-other';
export const AGENT_CAPABILITY = 'sec-cap';
export const AGENT_MAX_LOAD = 8;
export const AGENT_MAX_TTL = 60;

export const SECURITY_API_KEYS = JSON.stringify([
  { name: 'operator', role: Role.Operator, sha256: hashToken(TOKENS.operator) },
  { name: 'viewer', role: Role.Viewer, sha256: hashToken(TOKENS.viewer) },
  {
    name: 'agent:sec',
    role: Role.Agent,
    sha256: hashToken(TOKENS.agent),
    agentId: AGENT_ID,
    capabilities: [AGENT_CAPABILITY],
    maxLoad: AGENT_MAX_LOAD,
    maxTtlSeconds: AGENT_MAX_TTL,
  },
  {
    name: 'agent:other',
    role: Role.Agent,
    sha256: hashToken(TOKENS.otherAgent),
    agentId: OTHER_AGENT_ID,
    capabilities: ['other-cap'],
  },
]);

export interface SecurityApp extends TestApp {
  /** supertest agent with the named token (or none). */
  as(token: TokenName | undefined): {
    get(path: string): request.Test;
    post(path: string, body?: unknown): request.Test;
    patch(path: string, body?: unknown): request.Test;
    put(path: string, body?: unknown): request.Test;
    delete(path: string): request.Test;
  };
  /** Closes the app and deletes its Redis keys. */
  destroy(): Promise<void>;
}

/** Boots the real control plane (real Redis, memory bus) with a token of every role. */
export async function startSecurityApp(env: Env = {}): Promise<SecurityApp> {
  const t = await startTestApp({ SWITCHYARD_API_KEYS: SECURITY_API_KEYS, ...env });
  const withAuth = (test: request.Test, token: TokenName | undefined) =>
    token ? test.set('Authorization', `Bearer ${TOKENS[token]}`) : test;
  return {
    ...t,
    as: (token) => ({
      get: (path) => withAuth(request(t.server).get(path), token),
      post: (path, body) => withAuth(request(t.server).post(path), token).send(body as object),
      patch: (path, body) => withAuth(request(t.server).patch(path), token).send(body as object),
      put: (path, body) => withAuth(request(t.server).put(path), token).send(body as object),
      delete: (path) => withAuth(request(t.server).delete(path), token),
    }),
    destroy: async () => {
      await t.close();
      await deletePrefix(t.prefix);
    },
  };
}
