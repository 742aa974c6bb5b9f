import { agentsSection } from './agents.config';
import { authSection } from './auth.config';
import { busSection } from './bus.config';
import { discoverySection } from './discovery.config';
import { gatewaySection } from './gateway.config';
import { httpSection } from './http.config';
import { loggingSection } from './logging.config';
import { observabilitySection } from './observability.config';
import { orchestratorSection } from './orchestrator.config';
import { queueSection } from './queue.config';
import { redisSection } from './redis.config';
import { stateSection } from './state.config';
import { resilienceSection } from './resilience.config';
import { workerSection } from './worker.config';

/** Every configuration section. A module that needs settings adds its own section file here. */
export const configSections = {
  http: httpSection,
  auth: authSection,
  logging: loggingSection,
  observability: observabilitySection,
  redis: redisSection,
  bus: busSection,
  discovery: discoverySection,
  agents: agentsSection,
  queue: queueSection,
  resilience: resilienceSection,
  gateway: gatewaySection,
  state: stateSection,
  worker: workerSection,
  orchestrator: orchestratorSection,
} as const;
