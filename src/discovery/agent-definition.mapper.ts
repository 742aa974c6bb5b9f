import type { AgentDefinition } from '../agents/agent-definition.type';
import { registerAgentSchema, type RegisterAgentInput } from './discovery.schemas';
import { zodProblems } from '../common/errors/zod-problems.util';

/** Metadata marking an agent the control plane registered from AGENTS_DIR (and keeps alive). */
export const STATIC_SOURCE = { key: 'source', value: 'file' } as const;

const MAX_DESCRIPTION = 4000;

export type StaticRegistration =
  { ok: true; input: RegisterAgentInput } | { ok: false; file: string; reason: string };

/**
 * The registration of an agent definition file: id = its `name`, capabilities as loaded,
 * max load = `maxConcurrency`, metadata `source=file` and the file it came from. Validated with
 * the same schema as `POST /v1/agents`; a definition that does not fit says why.
 */
export function registrationFromDefinition(def: AgentDefinition): StaticRegistration {
  const input: RegisterAgentInput = {
    id: def.name,
    name: def.name,
    description: def.description.slice(0, MAX_DESCRIPTION),
    capabilities: [...new Set(def.capabilities)],
    maxLoad: def.maxConcurrency,
    executor: def.executor,
    metadata: { [STATIC_SOURCE.key]: STATIC_SOURCE.value, file: def.file },
  };
  if (def.model !== undefined) input.model = def.model;
  const parsed = registerAgentSchema.safeParse(input);
  if (!parsed.success) {
    const reason = zodProblems(parsed.error)
      .map((p) => `${p.field}: ${p.message}`)
      .join('; ');
    return { ok: false, file: def.file, reason };
  }
  return { ok: true, input };
}
