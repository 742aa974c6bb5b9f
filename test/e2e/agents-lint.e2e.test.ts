import { join, resolve } from 'node:path';
import { run } from '../../src/cli/main';

const ROOT = resolve(__dirname, '../..');
const EXAMPLES = join(ROOT, 'examples/agents');
const FIXTURES = join(ROOT, 'test/fixtures/agents');

/** Runs the CLI in-process and captures what it writes; restores process.exitCode afterwards. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = jest
    .spyOn(process.stdout, 'write')
    .mockImplementation((chunk: string | Uint8Array) => {
      stdout += chunk.toString();
      return true;
    });
  const err = jest
    .spyOn(process.stderr, 'write')
    .mockImplementation((chunk: string | Uint8Array) => {
      stderr += chunk.toString();
      return true;
    });
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await run(['node', 'switchyard', ...args]);
    return { code: Number(process.exitCode ?? 0), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.exitCode = before;
  }
}

describe('switchyard agents lint (e2e, in-process CLI)', () => {
  it('--json prints one JSON object for the examples, skipping the README, exit 0', async () => {
    const { code, stdout, stderr } = await cli('agents', 'lint', EXAMPLES, '--json');
    expect(code).toBe(0);
    expect(stderr).toBe('');
    const report = JSON.parse(stdout); // the whole output is one JSON document
    expect(Object.keys(report)).toEqual(['loaded', 'skipped']);
    expect(report.skipped).toEqual([
      {
        file: 'README.md',
        reason: 'no YAML front matter: not an agent definition (documentation?)',
      },
    ]);
    const byName = Object.fromEntries(report.loaded.map((a: { name: string }) => [a.name, a]));
    expect(Object.keys(byName).sort()).toEqual([
      'code-reviewer',
      'doc-writer',
      'echo',
      'security-auditor',
      'test-runner',
    ]);
    expect(byName['code-reviewer']).toEqual({
      name: 'code-reviewer',
      file: 'code-reviewer.md',
      capabilities: ['code-review', 'code-reviewer', 'read'],
      tools: ['Read', 'Grep', 'Glob'],
      model: 'sonnet',
      executor: 'builtin',
      warnings: [],
    });
    expect(byName['doc-writer'].capabilities).toEqual(['doc-writer', 'documentation', 'write']);
    expect(byName['echo']).toMatchObject({ tools: null, model: null, capabilities: ['echo'] });
    expect(byName['security-auditor']).toMatchObject({
      executor: 'claude',
      model: 'opus',
      capabilities: ['exec', 'read', 'security-auditor'],
    });
  });

  it('--json reports skipped files with reasons and still exits 0', async () => {
    const { code, stdout } = await cli('agents', 'lint', FIXTURES, '--json');
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.loaded.length).toBeGreaterThan(10);
    expect(report.skipped.length).toBeGreaterThan(10);
    for (const entry of report.loaded) {
      expect(Object.keys(entry).sort()).toEqual([
        'capabilities',
        'executor',
        'file',
        'model',
        'name',
        'tools',
        'warnings',
      ]);
      expect(entry.capabilities).toContain(entry.name);
    }
    for (const entry of report.skipped) {
      expect(Object.keys(entry).sort()).toEqual(['file', 'reason']);
      expect(entry.reason).not.toBe('');
    }
    expect(report.skipped).toContainEqual({
      file: 'duplicates/second.md',
      reason: 'duplicate agent name "duplicated-agent": already defined in duplicates/first.md',
    });
    const noTools = report.loaded.find((a: { name: string }) => a.name === 'no-tools-key');
    expect(noTools.tools).toBeNull();
  });

  it('prints a readable table with a summary line', async () => {
    const { code, stdout } = await cli('agents', 'lint', EXAMPLES);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME +FILE +EXECUTOR +MODEL +TOOLS +CAPABILITIES$/);
    const reviewer = lines.find((l) => l.startsWith('code-reviewer '));
    expect(reviewer).toMatch(
      /code-reviewer\.md +builtin +sonnet +Read,Grep,Glob +code-review,code-reviewer,read/,
    );
    expect(lines.find((l) => l.startsWith('echo '))).toMatch(/\(all\)/);
    expect(stdout).toContain('Skipped:\nFILE       REASON\nREADME.md  no YAML front matter');
    expect(lines[lines.length - 1]).toBe(
      `5 agents loaded, 1 file skipped, 0 warnings in ${EXAMPLES}`,
    );
    // Columns line up: every row of the agents table starts FILE at the same offset.
    const fileColumn = lines[0].indexOf('FILE');
    for (const line of lines.slice(1, 6)) expect(line.slice(fileColumn)).toMatch(/^[\w-]+\.md /);
  });

  it('exits 2 with a clear message when the directory does not exist', async () => {
    const missing = join(ROOT, 'no/such/agents-dir');
    const { code, stdout, stderr } = await cli('agents', 'lint', missing, '--json');
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe(`error: agent directory ${missing} does not exist\n`);
  });

  it('exits 2 when the directory argument is missing', async () => {
    const { code, stderr } = await cli('agents', 'lint');
    expect(code).toBe(2);
    expect(stderr).toContain("missing required argument 'dir'");
  });
});
