import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { AgentDefinition } from '../../agents/agent-definition.type';
import { git, KeyedMutex } from './claude-git.util';

/** What an isolated task left on its branch (recorded in the task's output). */
export interface WorkspaceOutcome {
  branch: string;
  /** Tip of the branch after the task (the agent's commit, or the worker's commit of its changes). */
  commit: string;
  /** Where the branch started. */
  baseCommit: string;
  /** `agent`: the agent committed; `worker`: the worker committed left-over changes; `none`: no change. */
  committedBy: 'agent' | 'worker' | 'agent+worker' | 'none';
  /** `git diff --stat base..commit`, last line (e.g. "2 files changed, 5 insertions(+)"). */
  diffStat: string;
  filesChanged: string[];
}

/** Where a task runs. */
export interface TaskWorkspace {
  cwd: string;
  isolated: boolean;
  branch?: string;
  /** Commits what is left, records the outcome, removes the worktree (keeps the branch). */
  finish(): Promise<WorkspaceOutcome | undefined>;
}

/** Tools that let an agent change files. */
const WRITING_TOOLS = /^(Write|Edit|MultiEdit|NotebookEdit|Bash)(\(|$)/;

/** Whether an agent can write to its workspace: no `tools` key means every tool. */
export function canWrite(agent: AgentDefinition): boolean {
  const disallowed = new Set(agent.disallowedTools);
  const tools = agent.tools ?? ['Write', 'Edit', 'Bash'];
  return tools.some((t) => WRITING_TOOLS.test(t) && !disallowed.has(t.split('(')[0]));
}

/** The branch a task's isolated worktree works on. */
export function taskBranch(taskId: string): string {
  return `switchyard/${taskId.replace(/[^A-Za-z0-9._-]/g, '-')}`;
}

export interface ClaudeWorkspacesOptions {
  /** The workspace (a git repository when isolation is used). */
  workspace: string;
  /** Default for agents that can write and do not set `isolation`. */
  isolation: 'none' | 'worktree';
  /** Branches `switchyard/*` older than this are deleted (once, on first use). */
  branchRetentionMs?: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * Gives each task of a writing agent its own `git worktree` of the workspace on branch
 * `switchyard/<taskId>` (when isolation applies), so parallel agents never edit the same files.
 * The worktree path is fixed per task (Claude Code keys its sessions by directory, so a resumed
 * attempt must run in the same place) and lives in the repository's git directory. After the
 * run, left-over changes are committed by the worker, the diff stat recorded and the worktree
 * removed; the branch stays for a merge step and is pruned by age.
 */
/** One per process: every agent's executor serialises its git bookkeeping on the same repository. */
const REPOSITORY_MUTEX = new KeyedMutex();

export class ClaudeWorkspaces {
  private readonly mutex = REPOSITORY_MUTEX;
  private pruned = false;

  constructor(private readonly options: ClaudeWorkspacesOptions) {}

  /** Whether tasks of `agent` get their own worktree. */
  isolates(agent: AgentDefinition): boolean {
    const mode = agent.isolation ?? (canWrite(agent) ? this.options.isolation : 'none');
    return mode === 'worktree';
  }

  async prepare(taskId: string, agent: AgentDefinition): Promise<TaskWorkspace> {
    const root = resolve(this.options.workspace);
    if (!this.isolates(agent)) {
      return { cwd: root, isolated: false, finish: () => Promise.resolve(undefined) };
    }
    const env = this.options.env ?? process.env;
    const branch = taskBranch(taskId);
    const { dir, base } = await this.mutex.run(root, async () => {
      await this.pruneOnce(root);
      let common = (await git(root, ['rev-parse', '--git-common-dir'], env)).trim();
      if (!isAbsolute(common)) common = join(root, common);
      const worktrees = join(common, 'switchyard-worktrees');
      await mkdir(worktrees, { recursive: true });
      const path = join(worktrees, branch.slice('switchyard/'.length));
      if (existsSync(path)) await git(root, ['worktree', 'remove', '--force', path], env);
      await git(root, ['worktree', 'prune'], env);
      const exists = await git(root, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`])
        .then(() => true)
        .catch(() => false);
      // A retry continues the branch of the attempt before it.
      if (exists) await git(root, ['worktree', 'add', path, branch], env);
      else await git(root, ['worktree', 'add', '-b', branch, path, 'HEAD'], env);
      const head = (await git(path, ['rev-parse', 'HEAD'], env)).trim();
      return { dir: path, base: head };
    });
    return {
      cwd: dir,
      isolated: true,
      branch,
      finish: () => this.finish(root, dir, branch, base, env),
    };
  }

  private async finish(
    root: string,
    dir: string,
    branch: string,
    base: string,
    env: NodeJS.ProcessEnv,
  ): Promise<WorkspaceOutcome> {
    try {
      const afterAgent = (await git(dir, ['rev-parse', 'HEAD'], env)).trim();
      const agentCommitted = afterAgent !== base;
      const dirty = (await git(dir, ['status', '--porcelain'], env)).trim() !== '';
      if (dirty) {
        await git(dir, ['add', '-A'], env);
        await git(
          dir,
          ['commit', '-q', '--no-verify', '-m', `switchyard: changes of ${branch}`],
          env,
        );
      }
      const commit = (await git(dir, ['rev-parse', 'HEAD'], env)).trim();
      const stat = commit === base ? '' : await git(dir, ['diff', '--stat', base, commit], env);
      const names =
        commit === base ? '' : await git(dir, ['diff', '--name-only', base, commit], env);
      return {
        branch,
        commit,
        baseCommit: base,
        committedBy:
          agentCommitted && dirty
            ? 'agent+worker'
            : agentCommitted
              ? 'agent'
              : dirty
                ? 'worker'
                : 'none',
        diffStat: stat.trim().split('\n').at(-1)?.trim() ?? '',
        filesChanged: names.split('\n').filter(Boolean),
      };
    } finally {
      await this.mutex.run(root, () =>
        git(root, ['worktree', 'remove', '--force', dir], env).catch(() => undefined),
      );
    }
  }

  /** Deletes `switchyard/*` branches whose last commit is older than the retention (not checked out). */
  async pruneBranches(root: string, olderThanMs: number): Promise<string[]> {
    const env = this.options.env ?? process.env;
    const out = await git(
      root,
      ['for-each-ref', '--format=%(refname:short) %(committerdate:unix)', 'refs/heads/switchyard/'],
      env,
    );
    const cutoff = (Date.now() - olderThanMs) / 1000;
    const deleted: string[] = [];
    for (const line of out.split('\n').filter(Boolean)) {
      const [name, when] = line.split(' ');
      if (Number(when) >= cutoff) continue;
      // A branch still checked out in a worktree is in use: git refuses, and we leave it.
      const ok = await git(root, ['branch', '-D', name], env)
        .then(() => true)
        .catch(() => false);
      if (ok) deleted.push(name);
    }
    return deleted;
  }

  private async pruneOnce(root: string): Promise<void> {
    if (this.pruned || this.options.branchRetentionMs === undefined) return;
    this.pruned = true;
    await this.pruneBranches(root, this.options.branchRetentionMs).catch(() => undefined);
  }
}
