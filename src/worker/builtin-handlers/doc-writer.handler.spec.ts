import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentDef, execContext } from '../../../test/support/worker-fixtures';
import type { ReviewReport } from './code-review.analyzer';
import { docWriterHandler, findReviews } from './doc-writer.handler';
import { renderReviewMarkdown } from './review-markdown.util';

const review: Pick<ReviewReport, 'path' | 'findings' | 'exports'> = {
  path: 'src',
  findings: [
    {
      file: 'src/a.ts',
      line: 3,
      rule: 'undocumented-export',
      symbol: 'b',
      message: 'exported function b has no doc comment',
    },
    {
      file: 'src/a.ts',
      line: 9,
      rule: 'explicit-any',
      symbol: 'c|d',
      message: 'explicit `any` in c|d',
    },
  ],
  exports: [
    {
      file: 'src/a.ts',
      name: 'a',
      kind: 'function',
      line: 1,
      doc: 'Does a.',
      signature: 'function a(): void',
    },
    {
      file: 'src/a.ts',
      name: 'b',
      kind: 'function',
      line: 3,
      signature: 'function b(x: `t`): void',
    },
  ],
};
const agent = agentDef({ name: 'doc-writer', handler: 'doc-writer' });

describe('doc-writer builtin', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'sy-doc-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));
  const handler = () => docWriterHandler({ root, reportsDir: 'reports' });

  it('writes the Markdown report from the review found in its inputs', async () => {
    const out = await handler()(
      {
        taskId: 't-doc',
        attempt: 0,
        capability: 'documentation',
        payload: { outPath: 'reports/deep/report.md' },
        // Inputs are keyed by id and by ref: the same review twice must be reported once.
        inputs: { review, 'task-123': review },
        workflowId: 'wf-9',
      },
      execContext(agent),
    );
    expect(out).toMatchObject({
      reportPath: 'reports/deep/report.md',
      sections: ['Summary', 'API overview', 'Review findings'],
      findings: 2,
      exports: 2,
    });
    const md = readFileSync(join(root, 'reports/deep/report.md'), 'utf8');
    expect(md).toMatch(/^# API overview and code review: src\n/);
    expect(md).toContain('workflow `wf-9`');
    expect(md).toContain('| Exported symbols | 2 (1 documented) |');
    expect(md).toContain('### `src/a.ts`');
    expect(md).toContain('- **a** (function, line 1) — Does a.');
    expect(md).toContain('- **b** (function, line 3) — _undocumented_');
    expect(md).toContain("  `function b(x: 't'): void`");
    expect(md).toContain('### Exported symbols without doc comments (1)');
    expect(md).toContain('| `src/a.ts` | 3 | `b` | exported function b has no doc comment |');
    expect(md).toContain('| `src/a.ts` | 9 | `c\\|d` | explicit `any` in c\\|d |');
  });

  it('defaults the path to reports/<workflow or task id>.md and accepts a claude review under data', async () => {
    const out = await handler()(
      {
        taskId: 't/../x',
        attempt: 0,
        capability: 'documentation',
        payload: null,
        inputs: { review: { text: '…', data: review } },
      },
      execContext(agent),
    );
    expect(out).toMatchObject({ reportPath: 'reports/t_.._x.md', findings: 2 });
  });

  it('fails with validation when no review is among the inputs, or outPath escapes the directory', async () => {
    await expect(
      handler()(
        {
          taskId: 't',
          attempt: 0,
          capability: 'documentation',
          payload: {},
          inputs: { x: { y: 1 } },
        },
        execContext(agent),
      ),
    ).rejects.toMatchObject({
      type: 'validation',
      message: expect.stringMatching(/needs a code-review result .*got keys: x/),
    });
    await expect(
      handler()(
        {
          taskId: 't',
          attempt: 0,
          capability: 'documentation',
          payload: { outPath: '../evil.md' },
          inputs: { review },
        },
        execContext(agent),
      ),
    ).rejects.toMatchObject({ type: 'validation' });
  });

  describe('writes only new report files under the report directory', () => {
    const run = (payload: Record<string, unknown>) =>
      handler()(
        { taskId: 't', attempt: 0, capability: 'documentation', payload, inputs: { review } },
        execContext(agent),
      );

    it('never replaces an executable (or any file) outside the report directory', async () => {
      mkdirSync(join(root, 'dist'));
      const script = join(root, 'dist', 'main.js');
      writeFileSync(script, 'console.log("real")', { mode: 0o755 });
      await expect(run({ outPath: 'dist/main.js' })).rejects.toMatchObject({
        type: 'validation',
      });
      await expect(run({ outPath: 'dist/main.js', overwrite: true })).rejects.toMatchObject({
        type: 'validation',
      });
      await expect(run({ outPath: 'notes.md' })).rejects.toMatchObject({
        message: expect.stringMatching(/outside the report directory/),
      });
      expect(readFileSync(script, 'utf8')).toBe('console.log("real")');
      expect(statSync(script).mode & 0o777).toBe(0o755);
    });

    it('refuses other extensions, control characters and absolute paths elsewhere', async () => {
      for (const outPath of ['reports/x.js', 'reports/x.sh', 'reports/a\nb.md', '/etc/x.md']) {
        await expect(run({ outPath })).rejects.toMatchObject({ type: 'validation' });
      }
    });

    it('creates a new file; an existing one is replaced only with overwrite: true', async () => {
      await run({ outPath: 'reports/r.md' });
      await expect(run({ outPath: 'reports/r.md' })).rejects.toMatchObject({
        message: expect.stringMatching(/already exists/),
      });
      writeFileSync(join(root, 'reports/r.md'), 'old');
      await run({ outPath: 'reports/r.md', overwrite: true });
      expect(readFileSync(join(root, 'reports/r.md'), 'utf8')).toMatch(/^# API overview/);
      expect(statSync(join(root, 'reports/r.md')).mode & 0o777).toBe(0o644);
    });

    it('never replaces an executable report, even with overwrite: true', async () => {
      mkdirSync(join(root, 'reports'));
      writeFileSync(join(root, 'reports/run.md'), 'keep', { mode: 0o755 });
      chmodSync(join(root, 'reports/run.md'), 0o755);
      await expect(run({ outPath: 'reports/run.md', overwrite: true })).rejects.toMatchObject({
        message: expect.stringMatching(/executable/),
      });
      expect(readFileSync(join(root, 'reports/run.md'), 'utf8')).toBe('keep');
    });

    it('does not follow symbolic links out of the report directory', async () => {
      const outside = mkdtempSync(join(tmpdir(), 'sy-doc-out-'));
      try {
        mkdirSync(join(root, 'reports'));
        writeFileSync(join(outside, 'victim.md'), 'victim');
        symlinkSync(join(outside, 'victim.md'), join(root, 'reports/link.md'));
        symlinkSync(outside, join(root, 'reports/dir'));
        await expect(run({ outPath: 'reports/link.md', overwrite: true })).rejects.toMatchObject({
          type: 'validation',
        });
        await expect(run({ outPath: 'reports/dir/new.md' })).rejects.toMatchObject({
          message: expect.stringMatching(/symbolic link/),
        });
        expect(readFileSync(join(outside, 'victim.md'), 'utf8')).toBe('victim');
      } finally {
        rmSync(outside, { recursive: true, force: true });
      }
    });

    it('keeps a title with newlines on its heading line', async () => {
      await run({ outPath: 'reports/t.md', title: 'Report\n# Injected\r\n<script>' });
      const md = readFileSync(join(root, 'reports/t.md'), 'utf8');
      expect(md.split('\n')[0]).toBe('# Report # Injected  <script>');
      expect(md).not.toMatch(/^# Injected/m);
    });
  });

  it('says when the review was truncated', () => {
    const { markdown } = renderReviewMarkdown(
      [{ ...review, summary: { findings: 40, truncated: true } }],
      {
        taskId: 't',
      },
    );
    expect(markdown).toContain('40 findings in all; the tables below list 2');
  });

  it('findReviews ignores inputs without the review shape', () => {
    expect(
      findReviews({ a: 1, b: null, c: { findings: [] }, d: review }).map((r) => r.key),
    ).toEqual(['d']);
  });
});

describe('findReviews (inputs by id and by ref)', () => {
  it('counts a review delivered under both keys once, even as two equal copies', () => {
    const review = {
      path: 'src',
      findings: [{ file: 'a.ts', line: 1, rule: 'todo', message: 'TODO' }],
      exports: [],
    };
    const copy = JSON.parse(JSON.stringify(review)) as typeof review;
    const found = findReviews({ 'task-id-1': review, review: copy });
    expect(found).toHaveLength(1);
  });
});
