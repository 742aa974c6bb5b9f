import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { git, GitError } from '../executors/claude-git.util';
import { ExecutionFailure } from '../executors/execution-error';
import type { BuiltinHandler } from './builtin-handler.type';

const branchName = z
  .string()
  .min(1)
  .max(250)
  .regex(/^(?!-)[\w./-]+$/, 'must be a git branch name (letters, digits, _ . / -)');

export const mergePayloadSchema = z
  .strictObject({
    /** Branches to merge, in order. Default: the `workspace.branch` of each input (isolated claude tasks). */
    branches: z.array(branchName).min(1).max(100).optional(),
    /** Branch to merge into (default: the branch checked out in the workspace). */
    into: branchName.optional(),
  })
  .nullish();

/** How one branch was merged. */
export interface BranchMerge {
  branch: string;
  result: 'fast-forward' | 'merge' | 'up-to-date';
  /** `into`'s commit after this branch. */
  commit: string;
}

export interface MergeOutput {
  into: string;
  before: string;
  after: string;
  merged: BranchMerge[];
}

/** `workspace.branch` of each dependency output (what an isolated claude task records). */
function branchesFromInputs(inputs: Record<string, unknown> | undefined): string[] {
  const out = new Set<string>();
  for (const value of Object.values(inputs ?? {})) {
    const branch = (value as { workspace?: { branch?: unknown } } | null)?.workspace?.branch;
    if (typeof branch === 'string') out.add(branch);
  }
  return [...out];
}

const rev = async (dir: string, what: string) => (await git(dir, ['rev-parse', what])).trim();
const isAncestor = (dir: string, a: string, b: string) =>
  git(dir, ['merge-base', '--is-ancestor', a, b]).then(
    () => true,
    () => false,
  );

/** Merges `branches` into the HEAD of `dir` one by one; on a conflict, aborts and throws naming the files. */
async function mergeAll(dir: string, into: string, branches: string[]): Promise<BranchMerge[]> {
  const merged: BranchMerge[] = [];
  for (const branch of branches) {
    const tip = await rev(dir, `refs/heads/${branch}`).catch(() => {
      throw new ExecutionFailure('not_found', `merge: branch ${branch} does not exist`, { branch });
    });
    if (await isAncestor(dir, tip, 'HEAD')) {
      merged.push({ branch, result: 'up-to-date', commit: await rev(dir, 'HEAD') });
      continue;
    }
    if (await isAncestor(dir, 'HEAD', tip)) {
      await git(dir, ['merge', '--ff-only', '-q', tip]);
      merged.push({ branch, result: 'fast-forward', commit: await rev(dir, 'HEAD') });
      continue;
    }
    try {
      await git(dir, [
        'merge',
        '--no-ff',
        '--no-edit',
        '-q',
        '-m',
        `Merge ${branch} into ${into}`,
        tip,
      ]);
      merged.push({ branch, result: 'merge', commit: await rev(dir, 'HEAD') });
    } catch (e) {
      const files = (await git(dir, ['diff', '--name-only', '--diff-filter=U']).catch(() => ''))
        .split('\n')
        .filter(Boolean);
      await git(dir, ['merge', '--abort']).catch(() => undefined);
      if (files.length === 0) throw e;
      throw new ExecutionFailure(
        'merge_conflict',
        `merging ${branch} into ${into} conflicts in ${files.join(', ')}`,
        { branch, into, files, merged: merged.map((m) => m.branch) },
      );
    }
  }
  return merged;
}

/**
 * `merge`: merges branches (by default those the task's isolated claude dependencies worked on,
 * `switchyard/<taskId>`) into a branch of the workspace — fast-forward when possible, else a
 * three-way merge commit. All or nothing: a conflict leaves `into` where it was and fails the
 * task with `merge_conflict`, naming the files. Into the branch checked out in the workspace,
 * the merge happens there (its working tree must be clean); into another branch, in a temporary
 * worktree, then the branch ref is moved (compare-and-swap).
 */
export function mergeHandler(options: { workspace: string }): BuiltinHandler {
  return async (request) => {
    const parsed = mergePayloadSchema.safeParse(request.payload);
    if (!parsed.success) {
      throw new ExecutionFailure(
        'validation',
        `merge: invalid payload: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
      );
    }
    const ws = options.workspace;
    const branches = parsed.data?.branches ?? branchesFromInputs(request.inputs);
    if (branches.length === 0) {
      throw new ExecutionFailure(
        'validation',
        'merge: no branches to merge (give `branches`, or depend on tasks that ran in a worktree)',
      );
    }
    try {
      const current = (await git(ws, ['rev-parse', '--abbrev-ref', 'HEAD'])).trim();
      const into = parsed.data?.into ?? current;
      const before = await rev(ws, `refs/heads/${into}`).catch(() => {
        throw new ExecutionFailure('not_found', `merge: branch ${into} does not exist`, { into });
      });
      if (into === current) {
        const dirty = (await git(ws, ['status', '--porcelain', '--untracked-files=no'])).trim();
        if (dirty) {
          throw new ExecutionFailure(
            'validation',
            `merge: the workspace has uncommitted changes on ${into}; commit or stash them first`,
            { files: dirty.split('\n').map((l) => l.slice(3)) },
          );
        }
        try {
          const merged = await mergeAll(ws, into, branches);
          return { into, before, after: await rev(ws, 'HEAD'), merged } satisfies MergeOutput;
        } catch (e) {
          await git(ws, ['reset', '-q', '--hard', before]).catch(() => undefined);
          throw e;
        }
      }
      const tmp = await mkdtemp(join(tmpdir(), 'switchyard-merge-'));
      const dir = join(tmp, 'wt');
      try {
        await git(ws, ['worktree', 'add', '-q', '--detach', dir, before]);
        const merged = await mergeAll(dir, into, branches);
        const after = await rev(dir, 'HEAD');
        await git(ws, ['update-ref', `refs/heads/${into}`, after, before]);
        return { into, before, after, merged } satisfies MergeOutput;
      } finally {
        await git(ws, ['worktree', 'remove', '--force', dir]).catch(() => undefined);
        await rm(tmp, { recursive: true, force: true });
      }
    } catch (e) {
      if (e instanceof GitError) {
        throw new ExecutionFailure('handler_error', `merge: ${e.message}`, {
          exitCode: e.exitCode,
        });
      }
      throw e;
    }
  };
}
