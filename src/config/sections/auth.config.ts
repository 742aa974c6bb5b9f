import { z } from 'zod';
import { bool, defineSection, field } from '../config-field.util';

export const authSection = defineSection('auth', 'Authentication', {
  adminToken: field(
    'SWITCHYARD_ADMIN_TOKEN',
    z.string().min(16, 'must be at least 16 characters').optional(),
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
  disabled: field(
    'AUTH_DISABLED',
    bool().default(false),
    'Turn authentication off (every request acts as admin). Never in production.',
  ),
});
