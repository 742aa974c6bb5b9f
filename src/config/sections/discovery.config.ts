import { defineSection, field, int, num } from '../config-field.util';

export const discoverySection = defineSection('discovery', 'Agent discovery', {
  heartbeatTtlSeconds: field(
    'DISCOVERY_HEARTBEAT_TTL_SECONDS',
    int(1).default(300),
    'An agent that has not heartbeated for this long disappears from every query',
  ),
  sweepIntervalMs: field(
    'DISCOVERY_SWEEP_INTERVAL_MS',
    int(100).default(5000),
    'How often expired agents are removed from the indexes (and an expired event emitted)',
  ),
  minHealthScore: field(
    'DISCOVERY_MIN_HEALTH_SCORE',
    num(0, 1).default(0.5),
    'Default minimum health score for dispatch',
  ),
});
