/**
 * Graph helpers for the task DAG. Edges point from a task to the tasks it depends on.
 * Everything is iterative: a 100,000-task chain must not blow the stack.
 */

/** One cycle found by {@link findFirstCycle}: the nodes in dependency order, first not repeated. */
export type Cycle = string[];

/**
 * The first cycle reachable in `graph` (node → its dependencies), or null when the graph is a
 * DAG. Dependencies that are not keys of `graph` are treated as leaves.
 */
export function findFirstCycle(graph: ReadonlyMap<string, readonly string[]>): Cycle | null {
  const WHITE = 0;
  const GREY = 1;
  const BLACK = 2;
  const color = new Map<string, number>();
  for (const start of graph.keys()) {
    if ((color.get(start) ?? WHITE) !== WHITE) continue;
    const path: string[] = [start];
    const iters: number[] = [0];
    color.set(start, GREY);
    while (path.length > 0) {
      const node = path[path.length - 1];
      const deps = graph.get(node) ?? [];
      const i = iters[iters.length - 1];
      if (i >= deps.length) {
        color.set(node, BLACK);
        path.pop();
        iters.pop();
        continue;
      }
      iters[iters.length - 1] = i + 1;
      const next = deps[i];
      const c = color.get(next) ?? WHITE;
      if (c === GREY) return path.slice(path.indexOf(next));
      if (c === WHITE && graph.has(next)) {
        color.set(next, GREY);
        path.push(next);
        iters.push(0);
      }
    }
  }
  return null;
}

/**
 * Strongly connected components that contain a cycle (size > 1, or a node depending on itself),
 * by Tarjan's algorithm. Dependencies that are not keys of `graph` are ignored.
 */
export function cyclicComponents(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  for (const root of graph.keys()) {
    if (idx.has(root)) continue;
    const work: { node: string; i: number }[] = [{ node: root, i: 0 }];
    idx.set(root, index);
    low.set(root, index);
    index++;
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const deps = graph.get(frame.node) ?? [];
      if (frame.i < deps.length) {
        const next = deps[frame.i++];
        if (!graph.has(next)) continue;
        if (!idx.has(next)) {
          idx.set(next, index);
          low.set(next, index);
          index++;
          stack.push(next);
          onStack.add(next);
          work.push({ node: next, i: 0 });
        } else if (onStack.has(next)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, idx.get(next)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === idx.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        const selfLoop = component.length === 1 && deps.includes(frame.node);
        if (component.length > 1 || selfLoop) out.push(component);
      }
    }
  }
  return out;
}

/** One concrete cycle inside a strongly connected component (a shortest one through its first node). */
export function cycleInComponent(
  graph: ReadonlyMap<string, readonly string[]>,
  component: readonly string[],
): Cycle {
  const members = new Set(component);
  const start = component[0];
  const parent = new Map<string, string>();
  const queue: string[] = [start];
  for (let q = 0; q < queue.length; q++) {
    const node = queue[q];
    for (const next of graph.get(node) ?? []) {
      if (!members.has(next)) continue;
      if (next === start) {
        const cycle: string[] = [node];
        let cur = node;
        while (cur !== start) {
          cur = parent.get(cur)!;
          cycle.push(cur);
        }
        return cycle.reverse();
      }
      if (!parent.has(next)) {
        parent.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start];
}

/** Every dependency cycle of `graph`: one concrete cycle per cyclic component. */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): Cycle[] {
  return cyclicComponents(graph).map((c) => cycleInComponent(graph, c));
}
