import { z } from 'zod';
import { bool, defineSection, field, int } from '../config-field.util';

export const redisSection = defineSection('redis', 'Redis', {
  url: field(
    'REDIS_URL',
    z.string().url().default('redis://127.0.0.1:6379'),
    'Redis connection URL',
  ),
  keyPrefix: field(
    'REDIS_KEY_PREFIX',
    z.string().min(1).default('sy:'),
    'Prefix of every key Switchyard writes (lets several installs share one Redis)',
  ),
  commandTimeoutMs: field(
    'REDIS_COMMAND_TIMEOUT_MS',
    int(1).default(2000),
    'A Redis command that takes longer fails (the API answers 503)',
  ),
  allowEviction: field(
    'REDIS_ALLOW_EVICTION',
    bool().default(false),
    'Start even if Redis maxmemory-policy is not noeviction (queue data may be lost)',
  ),
});
