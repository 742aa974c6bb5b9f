import { resolve } from 'node:path';
import { agentDef, execContext } from '../../../test/support/worker-fixtures';
import { ExecutionFailure } from '../executors/execution-error';
import type { ReviewReport } from './code-review.analyzer';
import { reviewSource } from './code-review.analyzer';
import { codeReviewerHandler, type FannedOutReview } from './code-reviewer.handler';

const SAMPLE = resolve(__dirname, '../../../test/fixtures/review-sample');
const agent = agentDef({ name: 'code-reviewer', handler: 'code-reviewer' });
const request = (payload: unknown) => ({
  taskId: 'r1',
  attempt: 0,
  capability: 'code-review',
  payload,
});

describe('code-reviewer builtin', () => {
  const handler = codeReviewerHandler({ root: SAMPLE, maxFunctionLines: 60 });

  it('reports exact findings with file and line on the fixture directory', async () => {
    const report = (await handler(request({ path: 'src' }), execContext(agent))) as ReviewReport;
    expect(report.files).toEqual(['src/math.ts', 'src/nested/long.ts']);
    expect(report.findings).toEqual([
      {
        file: 'src/math.ts',
        line: 6,
        rule: 'undocumented-export',
        symbol: 'subtract',
        message: 'exported function subtract has no doc comment',
      },
      {
        file: 'src/math.ts',
        line: 10,
        rule: 'todo-comment',
        message: 'TODO comment: support bigint',
      },
      {
        file: 'src/math.ts',
        line: 11,
        rule: 'undocumented-export',
        symbol: 'multiply',
        message: 'exported variable multiply has no doc comment',
      },
      {
        file: 'src/math.ts',
        line: 14,
        rule: 'explicit-any',
        symbol: 'parse',
        message: 'explicit `any` in parse',
      },
      {
        file: 'src/nested/long.ts',
        line: 7,
        rule: 'explicit-any',
        symbol: 'meta',
        message: 'explicit `any` in meta',
      },
      {
        file: 'src/nested/long.ts',
        line: 10,
        rule: 'undocumented-export',
        symbol: 'Sides',
        message: 'exported type Sides has no doc comment',
      },
      {
        file: 'src/nested/long.ts',
        line: 12,
        rule: 'todo-comment',
        message: 'FIXME comment: this function is far too long',
      },
      {
        file: 'src/nested/long.ts',
        line: 13,
        rule: 'undocumented-export',
        symbol: 'Summer',
        message: 'exported class Summer has no doc comment',
      },
      {
        file: 'src/nested/long.ts',
        line: 15,
        rule: 'long-function',
        symbol: 'Summer.sum',
        message: 'Summer.sum is 66 lines long (limit 60)',
      },
    ]);
    expect(report.exports.map((e) => [e.file, e.name, e.kind, e.line, e.doc])).toEqual([
      ['src/math.ts', 'add', 'function', 2, 'Adds two numbers.'],
      ['src/math.ts', 'subtract', 'function', 6, undefined],
      ['src/math.ts', 'multiply', 'variable', 11, undefined],
      ['src/math.ts', 'parse', 'function', 14, 'Parses anything.'],
      ['src/nested/long.ts', 'Shape', 'interface', 5, 'Shapes of things.'],
      ['src/nested/long.ts', 'Sides', 'type', 10, undefined],
      ['src/nested/long.ts', 'Summer', 'class', 13, undefined],
    ]);
    expect(report.exports[0].signature).toBe('function add(a: number, b: number): number');
    expect(report.exports[2].signature).toBe('const multiply = (a: number, b: number): number');
    expect(report.summary).toMatchObject({
      files: 2,
      exports: 7,
      documentedExports: 3,
      findings: 9,
      byRule: {
        'undocumented-export': 4,
        'long-function': 1,
        'explicit-any': 2,
        'todo-comment': 2,
      },
    });
  });

  it('honours a per-task maxFunctionLines', async () => {
    const report = (await handler(
      request({ path: 'src/math.ts', maxFunctionLines: 2 }),
      execContext(agent),
    )) as ReviewReport;
    expect(
      report.findings.filter((f) => f.rule === 'long-function').map((f) => [f.symbol, f.line]),
    ).toEqual([
      ['add', 2],
      ['subtract', 6],
      ['parse', 14],
      ['internalHelper', 18],
    ]);
  });

  it('caps findings and exports at maxItems, keeping the full counts', async () => {
    const report = (await handler(
      request({ path: 'src', maxItems: 2 }),
      execContext(agent),
    )) as ReviewReport;
    expect(report.findings).toHaveLength(2);
    expect(report.exports).toHaveLength(2);
    expect(report.summary).toMatchObject({ findings: 9, exports: 7, truncated: true });
  });

  it('rejects a bad payload, a missing path and a path outside the worker directory', async () => {
    await expect(handler(request({}), execContext(agent))).rejects.toMatchObject({
      type: 'validation',
    });
    await expect(handler(request({ path: 'nope' }), execContext(agent))).rejects.toMatchObject({
      type: 'not_found',
    });
    await expect(handler(request({ path: '../../..' }), execContext(agent))).rejects.toBeInstanceOf(
      ExecutionFailure,
    );
    await expect(handler(request({ path: '/etc' }), execContext(agent))).rejects.toMatchObject({
      type: 'validation',
    });
  });

  it('stops when the signal aborts', async () => {
    const c = new AbortController();
    c.abort();
    await expect(handler(request({ path: 'src' }), execContext(agent, c.signal))).rejects.toThrow();
  });

  it('finds comments anywhere and ignores TODO inside strings', () => {
    const src = [
      'const s = "TODO: not a comment";',
      'function f(a: number) {',
      '  return a; // FIXME trailing',
      '}',
      'f(1); /* todo lower case is not flagged */',
      'export default function () {}',
    ].join('\n');
    const r = reviewSource('x.ts', src, { maxFunctionLines: 60 });
    expect(r.findings.map((f) => [f.rule, f.line, f.symbol])).toEqual([
      ['todo-comment', 3, undefined],
      ['undocumented-export', 6, 'default'],
    ]);
  });

  it('perModule: delegates one code-review per subdirectory and merges them with its own files', async () => {
    const delegated: unknown[] = [];
    const ctx = {
      ...execContext(agent),
      // The child runs the same handler, as a reviewer agent would through Switchyard.
      delegate: async (capability: string, payload: unknown) => {
        delegated.push({ capability, payload });
        return handler(request(payload), execContext(agent));
      },
    };
    const whole = (await handler(request({ path: 'src' }), execContext(agent))) as ReviewReport;
    const fanned = (await handler(
      request({ path: 'src', perModule: true }),
      ctx,
    )) as FannedOutReview;
    expect(delegated).toEqual([{ capability: 'code-review', payload: { path: 'src/nested' } }]);
    expect(fanned.modules).toEqual([
      { path: 'src/nested', files: 1, findings: expect.any(Number), exports: expect.any(Number) },
    ]);
    expect(new Set(fanned.files)).toEqual(new Set(whole.files));
    expect(fanned.summary).toEqual(whole.summary);
    expect(fanned.findings).toHaveLength(whole.findings.length);
  });

  it('perModule: a failed module fails the review', async () => {
    const ctx = {
      ...execContext(agent),
      delegate: () => Promise.reject(new ExecutionFailure('delegation_failed', 'child failed')),
    };
    await expect(handler(request({ path: 'src', perModule: true }), ctx)).rejects.toMatchObject({
      type: 'delegation_failed',
    });
  });
});
