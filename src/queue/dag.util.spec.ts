import { cycleInComponent, cyclicComponents, findCycles, findFirstCycle } from './dag.util';

const g = (edges: Record<string, string[]>) => new Map(Object.entries(edges));

describe('findFirstCycle', () => {
  it('returns null for a DAG with a diamond and fan-in', () => {
    expect(
      findFirstCycle(g({ a: ['b', 'c'], b: ['d'], c: ['d'], d: [], e: ['a', 'd'] })),
    ).toBeNull();
  });

  it('finds A→B→C→A in dependency order', () => {
    const cycle = findFirstCycle(g({ a: ['b'], b: ['c'], c: ['a'] }))!;
    expect(cycle).toHaveLength(3);
    for (let i = 0; i < cycle.length; i++) {
      const next = cycle[(i + 1) % cycle.length];
      expect(g({ a: ['b'], b: ['c'], c: ['a'] }).get(cycle[i])).toContain(next);
    }
  });

  it('finds a self-dependency and ignores dependencies outside the graph', () => {
    expect(findFirstCycle(g({ a: ['a'] }))).toEqual(['a']);
    expect(findFirstCycle(g({ a: ['elsewhere'] }))).toBeNull();
  });

  it('handles a 100,000-task chain without recursion', () => {
    const edges: Record<string, string[]> = {};
    for (let i = 0; i < 100_000; i++) edges[`t${i}`] = i === 0 ? [] : [`t${i - 1}`];
    expect(findFirstCycle(g(edges))).toBeNull();
    edges.t0 = ['t99999'];
    expect(findFirstCycle(g(edges))).toHaveLength(100_000);
  });
});

describe('cyclicComponents / findCycles', () => {
  it('finds each cycle once and leaves the tasks hanging off them out', () => {
    const graph = g({
      a: ['b'],
      b: ['c'],
      c: ['a'],
      x: ['a'], // waits on the cycle but is not in it
      p: ['q'],
      q: ['p'],
      s: ['s'],
      free: [],
    });
    const comps = cyclicComponents(graph).map((c) => [...c].sort());
    expect(comps).toEqual(expect.arrayContaining([['a', 'b', 'c'], ['p', 'q'], ['s']]));
    expect(comps).toHaveLength(3);
    expect(
      findCycles(graph)
        .map((c) => c.length)
        .sort(),
    ).toEqual([1, 2, 3]);
  });

  it('extracts a concrete 50-task cycle from its component', () => {
    const edges: Record<string, string[]> = {};
    for (let i = 0; i < 50; i++) edges[`c${i}`] = [`c${(i + 1) % 50}`];
    const graph = g(edges);
    const [comp] = cyclicComponents(graph);
    const cycle = cycleInComponent(graph, comp);
    expect(cycle).toHaveLength(50);
    for (let i = 0; i < 50; i++) expect(graph.get(cycle[i])).toContain(cycle[(i + 1) % 50]);
  });
});
