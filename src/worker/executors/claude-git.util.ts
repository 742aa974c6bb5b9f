import { execFile } from 'node:child_process';

/** A git command that failed: its exit code and stderr. */
export class GitError extends Error {
  constructor(
    readonly args: string[],
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly stdout: string,
  ) {
    super(`git ${args.join(' ')} failed (${exitCode}): ${stderr.trim() || stdout.trim()}`);
    this.name = 'GitError';
  }
}

/** The identity the worker commits with (an agent's own commits keep theirs). */
const IDENTITY = ['-c', 'user.name=Switchyard worker', '-c', 'user.email=worker@switchyard.local'];

/**
 * Runs `git -C cwd …args` (never a shell) and resolves with stdout; rejects with a
 * {@link GitError}. `LC_ALL=C` keeps messages parseable.
 */
export function git(cwd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const full = ['-C', cwd, ...IDENTITY, ...args];
  return new Promise<string>((resolve, reject) => {
    execFile(
      'git',
      full,
      { env: { ...env, LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0' }, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          const code = typeof err.code === 'number' ? err.code : null;
          reject(new GitError(args, code, String(stderr), String(stdout)));
        } else resolve(String(stdout));
      },
    );
  });
}

/** Serialises async work per key (git operations that take the repository's locks). */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(work, work);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
