import { z } from 'zod';
import { bool, defineSection, field } from '../config-field.util';

export const loggingSection = defineSection('logging', 'Logging', {
  level: field(
    'LOG_LEVEL',
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    'Log level',
  ),
  pretty: field(
    'LOG_PRETTY',
    bool().default(false),
    'Human-readable logs instead of JSON (development only)',
  ),
  requestLogs: field('LOG_REQUESTS', bool().default(true), 'Log one line per HTTP request'),
});
