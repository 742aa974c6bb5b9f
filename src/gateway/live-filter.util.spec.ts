import type { SwitchyardEvent } from '../events/switchyard-event.type';
import { matchesFilters } from './live-filter.util';

const event: SwitchyardEvent = {
  type: 'task.completed',
  at: '2026-01-01T00:00:00.000Z',
  taskId: 't1',
  workflowId: 'w1',
  agentId: 'a1',
  capability: 'docs',
};

describe('matchesFilters', () => {
  it('matches everything with no filters', () => {
    expect(matchesFilters(event, {})).toBe(true);
  });

  it('ANDs the id filters', () => {
    expect(matchesFilters(event, { workflowId: 'w1', agentId: 'a1' })).toBe(true);
    expect(matchesFilters(event, { workflowId: 'w1', agentId: 'a2' })).toBe(false);
    expect(matchesFilters(event, { taskId: 't2' })).toBe(false);
    expect(matchesFilters(event, { capability: 'docs' })).toBe(true);
    expect(matchesFilters({ ...event, capability: undefined }, { capability: 'docs' })).toBe(false);
  });

  it('matches exact types, families and the wildcard', () => {
    expect(matchesFilters(event, { types: ['task.completed'] })).toBe(true);
    expect(matchesFilters(event, { types: ['task.failed', 'task.*'] })).toBe(true);
    expect(matchesFilters(event, { types: ['workflow.*'] })).toBe(false);
    expect(matchesFilters(event, { types: ['*'] })).toBe(true);
    expect(matchesFilters({ ...event, type: 'breaker.half_open' }, { types: ['breaker.*'] })).toBe(
      true,
    );
  });
});
