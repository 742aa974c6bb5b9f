import { isAbsolute, relative, resolve } from 'node:path';
import { ExecutionFailure } from '../executors/execution-error';

/**
 * Resolves `path` against `root` and refuses anything outside it (`..`, absolute paths elsewhere),
 * so a task payload cannot make a builtin agent read or write outside the worker's directory.
 */
export function confinePath(root: string, path: string, what: string): string {
  const full = resolve(root, path);
  const rel = relative(resolve(root), full);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    throw new ExecutionFailure(
      'validation',
      `${what} ${path} is outside the worker directory ${root}`,
    );
  }
  return full;
}
