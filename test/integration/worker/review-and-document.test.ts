import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { loadAgentDirectory } from '../../../src/agents/agent-loader';
import { createWorkflowSchema, type CreateWorkflowInput } from '../../../src/queue/task.schemas';
import { AgentRuntime } from '../../../src/worker/agent-runtime';
import type { FannedOutReview } from '../../../src/worker/builtin-handlers/code-reviewer.handler';
import type { ClaudeOutput } from '../../../src/worker/executors/claude.executor';
import type { ExecutionResult } from '../../../src/worker/executors/executor.types';
import { testExecutorOptions } from '../../support/worker-fixtures';

const ROOT = resolve(__dirname, '../../..');
const WORKFLOW = createWorkflowSchema.parse(
  JSON.parse(readFileSync(join(ROOT, 'examples/workflows/review-and-document.json'), 'utf8')),
);

/**
 * What the orchestrator does for this workflow, in process: each task in dependency order goes to
 * the agent with its capability, with its dependencies' outputs as inputs (by task id and by ref).
 */
async function runWorkflow(
  runtime: AgentRuntime,
  workflow: CreateWorkflowInput,
  workflowId: string,
) {
  const results = new Map<string, ExecutionResult>();
  const done = new Set<string>();
  while (done.size < workflow.tasks.length) {
    const ready = workflow.tasks.filter(
      (t) => !done.has(t.ref) && (t.dependsOn ?? []).every((d) => done.has(d)),
    );
    if (ready.length === 0) throw new Error('cycle');
    for (const task of ready) {
      const agent = runtime.agents().find((a) => a.capabilities.includes(task.capability));
      if (!agent) throw new Error(`no agent for ${task.capability}`);
      const inputs: Record<string, unknown> = {};
      for (const dep of task.dependsOn ?? []) {
        const r = results.get(dep);
        if (!r?.ok) throw new Error(`dependency ${dep} failed: ${JSON.stringify(r)}`);
        inputs[dep] = r.output;
        inputs[`${workflowId}-${dep}`] = r.output;
      }
      const result = await runtime.run(agent.name, {
        taskId: `${workflowId}-${task.ref}`,
        attempt: 0,
        capability: task.capability,
        payload: task.payload,
        inputs,
        timeoutMs: task.timeoutMs,
        workflowId,
        ref: task.ref,
      });
      results.set(task.ref, result);
      done.add(task.ref);
    }
  }
  return results;
}

describe('examples/workflows/review-and-document.json', () => {
  let root: string;
  beforeEach(() => {
    // The worker's directory: a copy of the review fixture (it has a src/ like a real project).
    root = mkdtempSync(join(tmpdir(), 'sy-wf-'));
    cpSync(join(ROOT, 'test/fixtures/review-sample'), root, { recursive: true });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('is a valid POST /v1/workflows body: review, then docs depending on it', () => {
    expect(WORKFLOW.tasks.map((t) => [t.ref, t.capability, t.dependsOn ?? []])).toEqual([
      ['review', 'code-review', []],
      ['docs', 'documentation', ['review']],
    ]);
  });

  it('runs with the builtin agents of examples/agents: a real review, then a Markdown report', async () => {
    const { loaded } = await loadAgentDirectory(join(ROOT, 'examples/agents'));
    const agents = loaded.filter((a) => a.name === 'code-reviewer' || a.name === 'doc-writer');
    expect(agents.map((a) => [a.name, a.executor, a.handler])).toEqual([
      ['code-reviewer', 'builtin', 'code-reviewer'],
      ['doc-writer', 'builtin', 'doc-writer'],
    ]);
    // ctx.delegate as the control plane provides it, in process: the child goes to the agent
    // with its capability and the parent gets its output (or its failure).
    const delegated: { parent: string; capability: string; payload: unknown }[] = [];
    let n = 0;
    const runtime: AgentRuntime = new AgentRuntime(agents, {
      executorOptions: testExecutorOptions({ cwd: root }),
      delegate: async (parent, capability, payload) => {
        delegated.push({ parent: parent.taskId, capability, payload });
        const agent = runtime.agents().find((a) => a.capabilities.includes(capability));
        if (!agent) throw new Error(`no agent for ${capability}`);
        const r = await runtime.run(agent.name, {
          taskId: `${parent.taskId}-child-${n++}`,
          attempt: 0,
          capability,
          payload,
        });
        if (!r.ok) throw new Error(r.error.message);
        return r.output;
      },
    });
    const results = await runWorkflow(runtime, WORKFLOW, 'wf-1');
    // The reviewer fanned the review out: one delegated code-review per module of src/.
    expect(delegated).toEqual([
      { parent: 'wf-1-review', capability: 'code-review', payload: { path: 'src/nested' } },
    ]);

    const review = results.get('review');
    expect(review?.ok).toBe(true);
    const report = (review as { output: FannedOutReview }).output;
    expect(report.summary.findings).toBe(9);
    expect(report.modules).toEqual([expect.objectContaining({ path: 'src/nested', files: 1 })]);
    expect(report.findings).toContainEqual(
      expect.objectContaining({
        file: 'src/nested/long.ts',
        line: 15,
        rule: 'long-function',
        symbol: 'Summer.sum',
      }),
    );

    expect(results.get('docs')).toMatchObject({
      ok: true,
      output: { reportPath: 'reports/review-and-document.md', findings: 9, exports: 7 },
    });
    const md = readFileSync(join(root, 'reports/review-and-document.md'), 'utf8');
    expect(md).toContain('# API overview and code review: src');
    expect(md).toContain('- **add** (function, line 2) — Adds two numbers.');
    expect(md).toContain(
      '| `src/nested/long.ts` | 15 | `Summer.sum` | Summer.sum is 66 lines long (limit 60) |',
    );
    expect(md).toContain('| `src/math.ts` | 10 |  | TODO comment: support bigint |');
  });

  it('runs with the executor: claude agents of examples/agents-claude (fake claude on PATH)', async () => {
    const { loaded, skipped } = await loadAgentDirectory(join(ROOT, 'examples/agents-claude'));
    expect(skipped.map((s) => s.file)).toEqual(['README.md']);
    expect(loaded.map((a) => [a.name, a.executor])).toEqual([
      ['code-reviewer', 'claude'],
      ['doc-writer', 'claude'],
    ]);
    const runtime = new AgentRuntime(loaded, {
      executorOptions: testExecutorOptions({
        cwd: root,
        env: {
          ...process.env,
          PATH: `${join(ROOT, 'test/fixtures/fake-claude')}${delimiter}${process.env.PATH ?? ''}`,
        },
      }),
    });
    const results = await runWorkflow(runtime, WORKFLOW, 'wf-2');
    const review = results.get('review') as {
      ok: true;
      output: ClaudeOutput;
      usage: { costUsd: number };
    };
    expect(review.ok).toBe(true);
    expect(review.usage.costUsd).toBeCloseTo(0.103028); // the recorded Claude Code result the fake prints
    const reviewEcho = review.output.data as { flags: Record<string, string> };
    expect(reviewEcho.flags['--system-prompt']).toMatch(/^You are a senior TypeScript reviewer/);
    expect(reviewEcho.flags['--allowedTools']).toBe('Read,Grep,Glob');
    expect(reviewEcho.flags['--max-turns']).toBe('30');

    const docs = results.get('docs') as { ok: true; output: ClaudeOutput };
    expect(docs.ok).toBe(true);
    const docsEcho = docs.output.data as { flags: Record<string, string>; prompt: string };
    expect(docsEcho.flags['--permission-mode']).toBe('acceptEdits');
    // The review's answer reached the doc-writer's prompt as its input.
    expect(docsEcho.prompt).toContain('"review": {');
    expect(docsEcho.prompt).toContain('reports/review-and-document.md');
  });
});
