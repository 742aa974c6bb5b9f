import { type ChildProcess, spawn } from 'node:child_process';

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
  /** Told once per process when the group watcher cannot be started (see `startGroupWatcher`). */
  logger?: { warn(message: string, meta?: Record<string, unknown>): void };
  /** Run as this OS user/group (WORKER_RUN_AS); the worker must be root to switch. */
  runAs?: RunAs;
}

/** A numeric OS user (and group) agent processes run as. */
export interface RunAs {
  uid: number;
  gid?: number;
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

/**
 * The group watcher: a tiny `sh` that blocks reading a pipe only this (worker) process holds the
 * write end of (Node opens its pipes close-on-exec, so no other child inherits it). When the
 * worker dies — however: exit, crash, SIGKILL, OOM kill — the kernel closes that end, `read` sees
 * end-of-file and the watcher SIGKILLs the agent's whole process group. On a normal finish the
 * runner kills the watcher itself first, so it never signals a group id that could be reused.
 * A pipe is used instead of a parent-death signal (`prctl(PR_SET_PDEATHSIG)`, `setpriv
 * --pdeathsig`) because it covers grandchildren as well, needs no util-linux, works on macOS,
 * and leaves the agent's own exit code and signal untouched (no wrapper between worker and agent).
 */
const WATCHER_SCRIPT = 'read _ignored; kill -9 -"$1" 2>/dev/null';

let watcherWarned = false;

/** Starts the watcher of process group `pgid`; undefined (warned once per process) if `sh` cannot start. */
export function startGroupWatcher(
  pgid: number,
  logger?: RunProcessOptions['logger'],
): ChildProcess | undefined {
  const warn = (reason: string) => {
    if (watcherWarned) return;
    watcherWarned = true;
    logger?.warn(
      'cannot start the process-group watcher: agent processes will not die with this worker if it is killed',
      { reason },
    );
  };
  try {
    const watcher = spawn('sh', ['-c', WATCHER_SCRIPT, 'switchyard-group-watcher', String(pgid)], {
      // Its own group: a signal to the worker's group (Ctrl-C) must not take the watcher first.
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    watcher.on('error', (err) => warn(err.message));
    watcher.stdin?.on('error', () => undefined);
    // Neither the watcher nor its pipe keeps the worker's event loop alive.
    watcher.unref();
    (watcher.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    return watcher;
  } catch (err) {
    warn(err instanceof Error ? err.message : String(err));
    return undefined;
  }
}

/** How long to wait for stdout/stderr to close after the process exited (a grandchild may hold them). */
const CLOSE_WAIT_MS = 2000;

/**
 * Runs one process in its own process group (`detached: true`) and waits for it. Never rejects.
 * Whatever happens — normal exit, abort, output over its cap — the whole group is killed before
 * this resolves, so no grandchild is left running; and if this (worker) process dies first, even
 * by SIGKILL, the group watcher kills the group within milliseconds.
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
      ...(opts.runAs ? { uid: opts.runAs.uid, gid: opts.runAs.gid ?? opts.runAs.uid } : {}),
    });
    const pid = child.pid;
    const watcher = pid === undefined ? undefined : startGroupWatcher(pid, opts.logger);
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
      // The group is gone: stop its watcher without letting it signal (SIGKILL, not end-of-file).
      if (watcher && watcher.exitCode === null && watcher.signalCode === null) {
        watcher.kill('SIGKILL');
      }
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
 * The environment variables an agent process may inherit from the worker's environment, whatever
 * the worker holds: the basics a program needs to run (PATH, HOME, locale, time zone, temp
 * directory) and the task's own credential names (an MCP-capable agent calls back with
 * SWITCHYARD_URL and the task-scoped SWITCHYARD_TASK_TOKEN). Everything else (S3_*, AWS_*,
 * OTEL_EXPORTER_OTLP_HEADERS, REDIS_URL, AMQP_URL, SWITCHYARD_ADMIN_TOKEN...) is withheld unless
 * an operator names it in WORKER_PASS_ENV or the agent file names it in `passEnv`.
 */
export const AGENT_ENV_ALLOW_LIST = [
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
  'SWITCHYARD_URL',
  'SWITCHYARD_TASK_TOKEN',
] as const;

/** @deprecated kept for callers of the old name; use {@link AGENT_ENV_ALLOW_LIST}. */
export const INHERITED_ENV = AGENT_ENV_ALLOW_LIST;

/** A variable name an agent file or WORKER_PASS_ENV may name; `NAME_*` names a prefix. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}\*?$/;

/**
 * What Claude Code itself reads (its API credentials and endpoints, its own settings, proxies):
 * passed to `claude` agents on top of {@link AGENT_ENV_ALLOW_LIST}. Cloud credentials (`AWS_*`,
 * `GOOGLE_*` for Bedrock/Vertex) are not: name them in WORKER_PASS_ENV or the agent's `passEnv`.
 */
export const CLAUDE_CODE_ENV = [
  'ANTHROPIC_*',
  'CLAUDE_CODE_*',
  'CLAUDE_CONFIG_DIR',
  'API_TIMEOUT_MS',
  'BASH_DEFAULT_TIMEOUT_MS',
  'BASH_MAX_TIMEOUT_MS',
  'MCP_TIMEOUT',
  'MCP_TOOL_TIMEOUT',
  'DISABLE_TELEMETRY',
  'DISABLE_AUTOUPDATER',
  'DISABLE_ERROR_REPORTING',
  'IS_SANDBOX',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'NODE_EXTRA_CA_CERTS',
] as const;

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
  const prefixes = keep.filter((k) => k.endsWith('*')).map((k) => k.slice(0, -1));
  for (const key of keep) {
    if (key.endsWith('*')) continue;
    const value = base[key];
    if (value !== undefined) env[key] = value;
  }
  if (prefixes.length > 0) {
    for (const [key, value] of Object.entries(base)) {
      if (value !== undefined && prefixes.some((p) => key.startsWith(p))) env[key] = value;
    }
  }
  return { ...env, ...extra };
}

/**
 * The environment of an agent process (command and claude executors): the allow-list
 * ({@link AGENT_ENV_ALLOW_LIST}) plus the names `passEnv` lists (WORKER_PASS_ENV and the agent
 * file's `passEnv`), taken from `base` (the worker's environment), plus `extra` (the task's own
 * variables, which win). An allow-list, not a deny-list: a secret added to the worker's
 * environment tomorrow does not reach agents.
 */
export function agentProcessEnv(
  base: NodeJS.ProcessEnv,
  options: { passEnv?: readonly string[]; extra?: Record<string, string> } = {},
): NodeJS.ProcessEnv {
  const names = [
    ...AGENT_ENV_ALLOW_LIST,
    ...(options.passEnv ?? []).filter((n) => ENV_NAME_PATTERN.test(n)),
  ];
  return minimalEnv(base, names, options.extra ?? {});
}
