import type { AgentDefinition } from '../agents/agent-definition.type';
import { registrationFromDefinition } from './agent-definition.mapper';

const def = (over: Partial<AgentDefinition> = {}): AgentDefinition => ({
  name: 'code-reviewer',
  description: 'Reviews code',
  disallowedTools: [],
  capabilities: ['code-reviewer', 'read', 'read'],
  executor: 'claude',
  maxConcurrency: 2,
  systemPrompt: 'You review.',
  file: 'review/code-reviewer.md',
  path: '/agents/review/code-reviewer.md',
  extra: {},
  ...over,
});

describe('registrationFromDefinition', () => {
  it('maps a definition file to a static registration', () => {
    expect(registrationFromDefinition(def({ model: 'sonnet' }))).toEqual({
      ok: true,
      input: {
        id: 'code-reviewer',
        name: 'code-reviewer',
        description: 'Reviews code',
        capabilities: ['code-reviewer', 'read'],
        maxLoad: 2,
        executor: 'claude',
        model: 'sonnet',
        metadata: { source: 'file', file: 'review/code-reviewer.md' },
      },
    });
  });

  it('truncates long descriptions', () => {
    const r = registrationFromDefinition(def({ description: 'x'.repeat(5000) }));
    expect(r.ok && r.input.description).toHaveLength(4000);
  });

  it('says why a definition cannot be registered', () => {
    expect(registrationFromDefinition(def({ name: 'has space' }))).toEqual({
      ok: false,
      file: 'review/code-reviewer.md',
      reason: expect.stringContaining('id:'),
    });
    expect(registrationFromDefinition(def({ capabilities: [] }))).toMatchObject({
      ok: false,
      reason: expect.stringContaining('capabilities'),
    });
  });
});
