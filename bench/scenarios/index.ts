import type { Scenario } from '../harness';
import { breakerScenario } from './breaker';
import { busScenario } from './bus';
import { consoleScenario } from './console';
import { delegateScenario } from './delegate';
import { claudeScenario } from './claude';
import { discoveryScenario } from './discovery';
import { liveScenario } from './live';
import { pipelineScenario } from './pipeline';
import { queueScenario } from './queue';
import { stateScenario } from './state';
import { tracingScenario } from './tracing';

/** Every benchmark scenario. Each lives in its own file in this folder and is added here. */
export const SCENARIOS: Record<string, Scenario> = {
  breaker: breakerScenario,
  bus: busScenario,
  console: consoleScenario,
  delegate: delegateScenario,
  claude: claudeScenario,
  discovery: discoveryScenario,
  live: liveScenario,
  pipeline: pipelineScenario,
  queue: queueScenario,
  state: stateScenario,
  tracing: tracingScenario,
};
