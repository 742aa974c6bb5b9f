import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Debian packages that provide the observability binaries the tests run (`.ci/run` installs them). */
export const TOOL_PACKAGES: Record<string, string> = {
  promtool: 'prometheus',
  prometheus: 'prometheus',
  amtool: 'prometheus-alertmanager',
  'prometheus-alertmanager': 'prometheus-alertmanager',
};

/** The absolute path of an executable on PATH, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * Finds a tool a test needs. Missing in CI (CI=true): throws, so the suite fails loudly. Missing
 * locally: prints why the checks that need it are skipped and returns undefined. Tests never
 * install anything themselves.
 */
export function requireTool(name: string, what: string): string | undefined {
  const path = which(name);
  if (path) return path;
  const pkg = TOOL_PACKAGES[name] ?? name;
  const message = `${name} is not installed (apt-get install -y ${pkg}); ${what}`;
  if (process.env.CI === 'true') throw new Error(`${message}: required in CI`);
  console.warn(`SKIPPED: ${message} are skipped`);
  return undefined;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a binary, resolving with its exit code and output (never rejecting on a non-zero exit). */
export function run(file: string, args: string[], cwd?: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(new Error(`${file}: ${err.message}`));
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}
