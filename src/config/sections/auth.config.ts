import { z } from 'zod';
import { bool, defineSection, field, int, list } from '../config-field.util';

/**
 * Tokens that appear in our docs and examples (and common stand-ins): a deployment that copied
 * one would be open to anyone who read them, so boot refuses them.
 */
export const PLACEHOLDER_TOKENS: readonly string[] = [
  'change-me-to-a-long-random-secret',
  'change-me',
  'changeme',
  'replace-me',
  'secret',
  'password',
  'token',
  'admin',
  'your-token-here',
  'dev-admin-token',
];

export function isPlaceholderToken(token: string): boolean {
  const t = token.trim().toLowerCase();
  return PLACEHOLDER_TOKENS.includes(t) || /^(change|replace)[-_]?me/.test(t);
}

export const authSection = defineSection('auth', 'Authentication', {
  adminToken: field(
    'SWITCHYARD_ADMIN_TOKEN',
    z
      .string()
      .min(16, 'must be at least 16 characters')
      .refine((t) => !isPlaceholderToken(t), {
        message: 'is a placeholder from the docs: generate one, e.g. `openssl rand -hex 32`',
      })
      .optional(),
    'A bearer token with the admin role (hashed in memory at boot)',
    { example: 'change-me-to-a-long-random-secret', secret: true },
  ),
  apiKeys: field(
    'SWITCHYARD_API_KEYS',
    z.string().optional(),
    'More API keys as JSON: [{"name","role","sha256","agentId?"}] (make sha256 with `switchyard auth hash-key`)',
    { example: '[{"name":"ci","role":"operator","sha256":"<hex>"}]' },
  ),
  apiKeysFile: field(
    'SWITCHYARD_API_KEYS_FILE',
    z.string().optional(),
    'Path to a JSON file with the same shape as SWITCHYARD_API_KEYS',
  ),
  failureLimit: field(
    'AUTH_FAILURE_LIMIT',
    int(1).default(30),
    'Failed authentications (401, REST and WebSocket) one address may make per AUTH_FAILURE_WINDOW_SECONDS; beyond that its requests get 429 until the window ends',
  ),
  failureWindowSeconds: field(
    'AUTH_FAILURE_WINDOW_SECONDS',
    int(1).default(60),
    'Window of AUTH_FAILURE_LIMIT',
  ),
  disabled: field(
    'AUTH_DISABLED',
    bool().default(false),
    'Turn authentication off (every request acts as admin). Never in production.',
  ),
  taskCredentialSecret: field(
    'SWITCHYARD_TASK_CREDENTIAL_SECRET',
    z.string().min(32, 'must be at least 32 characters').optional(),
    'HMAC key that signs task-scoped credentials (the same on every control plane; default: derived from SWITCHYARD_ADMIN_TOKEN, else random per process)',
    { example: 'change-me-to-another-long-random-secret', secret: true },
  ),
  taskCredentialTtlSeconds: field(
    'SWITCHYARD_TASK_CREDENTIAL_TTL_SECONDS',
    int(10, 7 * 86_400).default(900),
    'Lifetime of a task credential beyond the task timeout; it also stops working once the task is terminal',
  ),
  taskStateNamespaces: field(
    'SWITCHYARD_TASK_STATE_NAMESPACES',
    list().default([]),
    'State key prefixes every task credential may use besides workflows/<its workflow>/ (comma list, e.g. shared/,kb/)',
  ),
});
