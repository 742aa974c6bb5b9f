import type { Scenario } from '../harness';
import { breakerScenario } from './breaker';
import { discoveryScenario } from './discovery';
import { queueScenario } from './queue';
import { stateScenario } from './state';

/** Every benchmark scenario. Each lives in its own file in this folder and is added here. */
export const SCENARIOS: Record<string, Scenario> = {
  breaker: breakerScenario,
  discovery: discoveryScenario,
  queue: queueScenario,
  state: stateScenario,
};
