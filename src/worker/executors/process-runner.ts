import { spawn } from 'node:child_process';

export interface RunProcessOptions {
  /** argv; `argv[0]` is the executable (resolved on PATH), never run through a shell. */
  argv: string[];
  /** Written to stdin, then stdin is closed. */
  stdin?: string;
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Aborting kills the process group: SIGTERM, then SIGKILL after `killGraceMs`. */
  signal: AbortSignal;
  killGraceMs: number;
  maxStdoutBytes: number;
  maxStderrBytes: number;
  /**
   * Receives stdout as it arrives. When set, stdout is streamed only (not buffered, `stdout` in
   * the result is empty) and `maxStdoutBytes` does not apply: the consumer bounds what it keeps.
   */
  onStdout?: (chunk: Buffer) => void;
}

export interface RunProcessResult {
  pid?: number;
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Which stream went over its cap (the process group was killed when it did). */
  overflow?: 'stdout' | 'stderr';
  /** The process could not be started (ENOENT, EACCES...). */
  spawnError?: NodeJS.ErrnoException;
  /** The signal aborted before the process ended (the group was killed). */
  aborted: boolean;
  durationMs: number;
}

/** Sends `sig` to the whole process group led by `pid`; false when the group is gone. */
export function killGroup(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** How long to wait for stdout/stderr to close after the process exited (a grandchild may hold them). */
const CLOSE_WAIT_MS = 2000;

/**
 * Runs one process in its own process group (`detached: true`) and waits for it. Never rejects.
 * Whatever happens — normal exit, abort, output over its cap — the whole group is killed before
 * this resolves, so no grandchild is left running.
 */
export function runProcess(opts: RunProcessOptions): Promise<RunProcessResult> {
  const started = Date.now();
  if (opts.signal.aborted) {
    return Promise.resolve({
      exitCode: null,
      exitSignal: null,
      stdout: '',
      stderr: '',
      aborted: true,
      durationMs: 0,
    });
  }
  return new Promise<RunProcessResult>((resolve) => {
    const [file, ...args] = opts.argv;
    const child = spawn(file, args, {
      detached: true,
      shell: false,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env,
      cwd: opts.cwd,
      windowsHide: true,
    });
    const pid = child.pid;
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let stdoutBytes = 0;
    let stderrBytes = 0;
    let overflow: RunProcessResult['overflow'];
    let aborted = false;
    let exitCode: number | null = null;
    let exitSignal: NodeJS.Signals | null = null;
    let spawnError: NodeJS.ErrnoException | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let closeTimer: NodeJS.Timeout | undefined;
    let settled = false;

    const terminate = () => {
      if (pid === undefined || killTimer) return;
      killGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), opts.killGraceMs);
    };
    const onAbort = () => {
      aborted = true;
      terminate();
    };
    opts.signal.addEventListener('abort', onAbort, { once: true });

    const finish = () => {
      if (settled) return;
      settled = true;
      opts.signal.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      if (closeTimer) clearTimeout(closeTimer);
      // Anything still in the group (a background grandchild) dies with the task.
      if (pid !== undefined) killGroup(pid, 'SIGKILL');
      resolve({
        pid,
        exitCode,
        exitSignal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        overflow,
        spawnError,
        aborted,
        durationMs: Date.now() - started,
      });
    };

    child.stdout.on('data', (chunk: Buffer) => {
      if (overflow) return;
      if (opts.onStdout) {
        opts.onStdout(chunk);
        return;
      }
      stdoutBytes += chunk.length;
      if (stdoutBytes > opts.maxStdoutBytes) {
        overflow = 'stdout';
        terminate();
        return;
      }
      stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (overflow) return;
      stderrBytes += chunk.length;
      if (stderrBytes > opts.maxStderrBytes) {
        overflow = 'stderr';
        terminate();
        return;
      }
      stderr.push(chunk);
    });
    // A process that exits without reading stdin makes the write fail with EPIPE: not our error.
    child.stdin.on('error', () => undefined);
    child.on('error', (err: NodeJS.ErrnoException) => {
      spawnError = err;
      if (pid === undefined) finish();
    });
    child.on('exit', (code, sig) => {
      exitCode = code;
      exitSignal = sig;
      if (pid !== undefined) killGroup(pid, 'SIGKILL');
      closeTimer = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      }, CLOSE_WAIT_MS);
    });
    child.on('close', finish);

    if (pid !== undefined) {
      child.stdin.end(opts.stdin ?? '');
    }
  });
}

/** The last `maxChars` characters of `text` (for error messages). */
export function tail(text: string, maxChars = 2000): string {
  return text.length <= maxChars ? text : `…${text.slice(text.length - maxChars)}`;
}

/**
 * The environment a child process gets: only the listed variables of `base`, plus `extra`.
 * Secrets the worker holds (tokens, AMQP URLs) are not passed on.
 */
export function minimalEnv(
  base: NodeJS.ProcessEnv,
  keep: readonly string[],
  extra: Record<string, string>,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of keep) {
    const value = base[key];
    if (value !== undefined) env[key] = value;
  }
  return { ...env, ...extra };
}

export const INHERITED_ENV = [
  'PATH',
  'HOME',
  'USER',
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'TMPDIR',
  'TEMP',
  'TMP',
  'SYSTEMROOT',
] as const;
