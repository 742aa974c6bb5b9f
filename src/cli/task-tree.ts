import type { TaskCost, TaskTreeNode } from '../queue/task.types';
import { renderTable } from './table.util';

/** `1.2s`, `850ms`, `2m05s`: how long a task ran (or has been running, with `+`). */
export function formatDuration(node: TaskTreeNode, now = Date.now()): string {
  if (!node.startedAt) return '-';
  const start = Date.parse(node.startedAt);
  const end = node.completedAt ? Date.parse(node.completedAt) : now;
  const ms = Math.max(0, end - start);
  const text =
    ms < 1000
      ? `${ms}ms`
      : ms < 60_000
        ? `${(ms / 1000).toFixed(1)}s`
        : `${Math.floor(ms / 60_000)}m${String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0')}s`;
  return node.completedAt ? text : `${text}+`;
}

function usd(cost: TaskCost | undefined): string | undefined {
  return cost && cost.usd > 0 ? `$${cost.usd.toFixed(4)}` : undefined;
}

/** A node's cost: its own, and the whole subtree's when it has children that cost something. */
export function formatCost(node: TaskTreeNode): string {
  const own = usd(node.cost);
  const tree = node.children.length > 0 ? usd(node.treeCost) : undefined;
  if (tree && tree !== own) return `${own ?? '$0.0000'} (tree ${tree})`;
  return own ?? '-';
}

/**
 * The delegation tree as a table: one row per task, indented with box-drawing branches, with
 * its capability, status, agent, duration and cost.
 */
export function renderTaskTree(root: TaskTreeNode, now = Date.now()): string {
  const rows: (string | undefined)[][] = [];
  const walk = (node: TaskTreeNode, prefix: string, branch: string): void => {
    rows.push([
      `${prefix}${branch}${node.id}`,
      node.capability,
      node.status,
      node.agentId,
      formatDuration(node, now),
      formatCost(node),
    ]);
    const childPrefix = prefix + (branch === '' ? '' : branch === '└─ ' ? '   ' : '│  ');
    node.children.forEach((child, i) =>
      walk(child, childPrefix, i === node.children.length - 1 ? '└─ ' : '├─ '),
    );
  };
  walk(root, '', '');
  return renderTable(['task', 'capability', 'status', 'agent', 'duration', 'cost'], rows);
}
