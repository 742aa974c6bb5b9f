import { constants } from 'node:fs';
import { mkdir, open, realpath, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { ExecutionFailure } from '../executors/execution-error';

/** Extensions a report may have: text a worker never executes. */
const REPORT_EXTENSIONS = /\.(md|markdown|txt)$/i;
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

function within(dir: string, full: string): boolean {
  const rel = relative(dir, full);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

export interface WriteReportOptions {
  /** The worker's directory: a relative `path` is resolved from here. */
  root: string;
  /** The only directory reports may be written under (absolute, or relative to `root`). */
  outputDir: string;
  /** Where to write, from the task payload. */
  path: string;
  content: string;
  /** Replace an existing report (only a regular, non-executable file with one link). */
  overwrite: boolean;
  signal?: AbortSignal;
}

/**
 * Writes a report file for a builtin handler, safe against a hostile `path`: the file must be
 * under `outputDir` (also after resolving symlinks in its directories), have a text extension,
 * contain no control characters, and be new, unless `overwrite` is set, in which case only a
 * regular file without execute bits and with a single hard link is replaced. The file itself is
 * never followed when it is a symlink (`O_NOFOLLOW`) and is created with mode 0644.
 * Returns the absolute path written.
 */
export async function writeReportFile(opts: WriteReportOptions): Promise<string> {
  const refuse = (why: string): never => {
    throw new ExecutionFailure('validation', `outPath ${JSON.stringify(opts.path)} ${why}`);
  };
  if (CONTROL.test(opts.path)) refuse('contains a control character');
  if (!REPORT_EXTENSIONS.test(opts.path)) refuse('must end with .md, .markdown or .txt');
  const outDir = resolve(opts.root, opts.outputDir);
  const full = resolve(opts.root, opts.path);
  if (!within(outDir, full)) refuse(`is outside the report directory ${outDir}`);

  await mkdir(outDir, { recursive: true });
  const realOutDir = await realpath(outDir);
  // Create the missing directories one level at a time below the output directory, checking
  // each existing one really is inside it (a symlinked directory must not lead elsewhere).
  await mkdir(dirname(full), { recursive: true });
  const realParent = await realpath(dirname(full));
  if (realParent !== realOutDir && !within(realOutDir, realParent)) {
    refuse('leads outside the report directory through a symbolic link');
  }

  const flags =
    constants.O_WRONLY |
    constants.O_CREAT |
    constants.O_NOFOLLOW |
    (opts.overwrite ? 0 : constants.O_EXCL);
  let handle: FileHandle;
  try {
    handle = await open(full, flags, 0o644);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') refuse('already exists (set overwrite: true to replace a report)');
    if (code === 'ELOOP') refuse('is a symbolic link');
    if (code === 'EISDIR') refuse('is a directory');
    throw err;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) refuse('is not a regular file');
    if ((stat.mode & 0o111) !== 0) refuse('is an executable file and is never replaced');
    if (stat.nlink > 1) refuse('has other hard links and is never replaced');
    await handle.truncate(0);
    opts.signal?.throwIfAborted();
    await handle.writeFile(opts.content, { encoding: 'utf8', signal: opts.signal });
  } finally {
    await handle.close();
  }
  return full;
}
