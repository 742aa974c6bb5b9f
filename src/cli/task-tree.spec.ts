import { TaskStatus, type TaskTreeNode } from '../queue/task.types';
import { formatCost, formatDuration, renderTaskTree } from './task-tree';

const node = (id: string, extra: Partial<TaskTreeNode> = {}): TaskTreeNode => ({
  id,
  capability: 'review',
  status: TaskStatus.Completed,
  depth: 0,
  createdAt: '2026-01-01T00:00:00.000Z',
  children: [],
  ...extra,
});
const cost = (usd: number) => ({ usd, inputTokens: 0, outputTokens: 0, tokens: 0 });

describe('task tree rendering', () => {
  it('formats durations, running ones with a +', () => {
    const started = { startedAt: '2026-01-01T00:00:00.000Z' };
    expect(formatDuration(node('a'))).toBe('-');
    expect(formatDuration(node('a', { ...started, completedAt: '2026-01-01T00:00:00.250Z' }))).toBe(
      '250ms',
    );
    expect(formatDuration(node('a', { ...started, completedAt: '2026-01-01T00:00:01.260Z' }))).toBe(
      '1.3s',
    );
    expect(formatDuration(node('a', { ...started, completedAt: '2026-01-01T00:02:05.000Z' }))).toBe(
      '2m05s',
    );
    expect(formatDuration(node('a', started), Date.parse('2026-01-01T00:00:03.000Z'))).toBe(
      '3.0s+',
    );
  });

  it('shows the own cost, and the subtree total when children cost more', () => {
    expect(formatCost(node('a'))).toBe('-');
    expect(formatCost(node('a', { cost: cost(0.1), treeCost: cost(0.1) }))).toBe('$0.1000');
    const parent = node('p', {
      cost: cost(0.1),
      treeCost: cost(0.3),
      children: [node('c', { cost: cost(0.2) })],
    });
    expect(formatCost(parent)).toBe('$0.1000 (tree $0.3000)');
  });

  it('draws the branches in order with one row per task', () => {
    const tree = node('root', {
      children: [
        node('a', { children: [node('a1', { capability: 'echo', agentId: 'echo@w' })] }),
        node('b', { status: TaskStatus.Failed }),
      ],
    });
    const lines = renderTaskTree(tree).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TASK\s+CAPABILITY\s+STATUS\s+AGENT\s+DURATION\s+COST$/);
    const col = lines[0].indexOf('CAPABILITY');
    expect(lines.slice(1).map((l) => l.slice(0, col).trimEnd())).toEqual([
      'root',
      '├─ a',
      '│  └─ a1',
      '└─ b',
    ]);
    expect(lines[3]).toMatch(/echo\s+COMPLETED\s+echo@w/);
    expect(lines[4]).toContain('FAILED');
  });
});
