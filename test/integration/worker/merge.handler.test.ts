import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExecutionFailure } from '../../../src/worker/executors/execution-error';
import { mergeHandler, type MergeOutput } from '../../../src/worker/builtin-handlers/merge.handler';
import { agentDef, execContext } from '../../support/worker-fixtures';

describe('builtin merge handler (real git)', () => {
  let repo: string;
  const g = (...args: string[]) =>
    execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {
      encoding: 'utf8',
    }).trim();
  const commitOn = (branch: string, file: string, text: string) => {
    g('checkout', '-q', branch);
    writeFileSync(join(repo, file), text);
    g('add', '.');
    g('commit', '-qm', `${branch}: ${file}`);
    g('checkout', '-q', 'main');
  };
  const merge = (payload: unknown, inputs?: Record<string, unknown>) =>
    mergeHandler({ workspace: repo })(
      { taskId: 'm1', attempt: 0, capability: 'merge', payload, inputs },
      execContext(agentDef({ name: 'merger' })),
    ) as Promise<MergeOutput>;

  beforeEach(() => {
    repo = mkdtempSync(join(tmpdir(), 'sy-merge-'));
    g('init', '-q', '-b', 'main');
    writeFileSync(join(repo, 'shared.txt'), 'base\n');
    g('add', '.');
    g('commit', '-qm', 'base');
    g('branch', 'switchyard/a');
    g('branch', 'switchyard/b');
  });
  afterEach(() => rmSync(repo, { recursive: true, force: true }));

  it('fast-forwards, then three-way merges, the branches named by the inputs', async () => {
    commitOn('switchyard/a', 'a.txt', 'A\n');
    commitOn('switchyard/b', 'b.txt', 'B\n');
    const out = await merge(null, {
      t1: { text: '', workspace: { branch: 'switchyard/a' } },
      t2: { text: '', workspace: { branch: 'switchyard/b' } },
    });
    expect(out.merged.map((m) => [m.branch, m.result])).toEqual([
      ['switchyard/a', 'fast-forward'],
      ['switchyard/b', 'merge'],
    ]);
    expect(out.after).toBe(g('rev-parse', 'main'));
    expect(readFileSync(join(repo, 'a.txt'), 'utf8')).toBe('A\n');
    expect(readFileSync(join(repo, 'b.txt'), 'utf8')).toBe('B\n');
    expect(g('log', '-1', '--format=%s')).toBe('Merge switchyard/b into main');
    // Merging again changes nothing.
    const again = await merge({ branches: ['switchyard/a'] });
    expect(again.merged[0].result).toBe('up-to-date');
  });

  it('fails naming the conflicting files and leaves the target where it was', async () => {
    commitOn('switchyard/a', 'shared.txt', 'base\nfrom A\n');
    commitOn('switchyard/b', 'shared.txt', 'base\nfrom B\n');
    const before = g('rev-parse', 'main');
    const err = await merge({ branches: ['switchyard/a', 'switchyard/b'] }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ExecutionFailure);
    expect(err).toMatchObject({
      type: 'merge_conflict',
      retryable: false,
      message: 'merging switchyard/b into main conflicts in shared.txt',
      details: { files: ['shared.txt'], merged: ['switchyard/a'] },
    });
    expect(g('rev-parse', 'main')).toBe(before);
    expect(g('status', '--porcelain')).toBe('');
  });

  it('merges into a branch that is not checked out through a temporary worktree', async () => {
    g('branch', 'integration');
    commitOn('switchyard/a', 'a.txt', 'A\n');
    const out = await merge({ branches: ['switchyard/a'], into: 'integration' });
    expect(out.merged[0].result).toBe('fast-forward');
    expect(g('rev-parse', 'integration')).toBe(g('rev-parse', 'switchyard/a'));
    expect(g('rev-parse', '--abbrev-ref', 'HEAD')).toBe('main');
    expect(g('worktree', 'list').split('\n')).toHaveLength(1);
  });

  it('refuses bad payloads and unknown branches clearly', async () => {
    await expect(merge({ branches: ['-x'] })).rejects.toMatchObject({ type: 'validation' });
    await expect(merge({})).rejects.toMatchObject({ type: 'validation' });
    await expect(merge({ branches: ['nope'] })).rejects.toMatchObject({
      type: 'not_found',
      message: 'merge: branch nope does not exist',
    });
  });
});
