import { AgentStatus, type AgentRecord } from '../discovery/agent-record.type';
import { selectAgent } from './select-agent.util';

function agent(id: string, load = 0): AgentRecord {
  const now = new Date().toISOString();
  return {
    id,
    name: id,
    description: '',
    capabilities: ['review'],
    status: AgentStatus.Available,
    load,
    maxLoad: 4,
    healthScore: 1,
    registeredAt: now,
    lastHeartbeatAt: now,
    expiresAt: now,
    metadata: {},
  };
}

describe('selectAgent', () => {
  const candidates = [agent('least', 0), agent('middle', 1), agent('most', 3)];

  it('takes the least-loaded agent when every breaker lets tasks through', () => {
    expect(selectAgent(candidates, { canDispatch: () => true })?.id).toBe('least');
  });

  it('falls back to the next least-loaded agent when a breaker is open', () => {
    const open = new Set(['least']);
    expect(selectAgent(candidates, { canDispatch: (id) => !open.has(id) })?.id).toBe('middle');
    open.add('middle');
    expect(selectAgent(candidates, { canDispatch: (id) => !open.has(id) })?.id).toBe('most');
  });

  it('skips excluded agents (the one whose breaker just refused)', () => {
    expect(selectAgent(candidates, { canDispatch: () => true }, new Set(['least']))?.id).toBe(
      'middle',
    );
  });

  it('returns undefined when no agent can take the task (it waits / retries)', () => {
    expect(selectAgent(candidates, { canDispatch: () => false })).toBeUndefined();
    expect(selectAgent([], { canDispatch: () => true })).toBeUndefined();
  });
});
