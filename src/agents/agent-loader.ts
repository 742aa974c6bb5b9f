import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { AgentDefinition, AgentLoadResult, SkippedAgentFile } from './agent-definition.type';
import { AgentDirectoryError } from './agent-directory.error';
import { parseAgentFile } from './agent-file.parser';

export { parseAgentFile };

/**
 * Loads every agent definition under `dir`: all `*.md` files at any depth (as Claude Code scans
 * `.claude/agents/**`), following symlinks, in sorted order of their relative path. Files that
 * are not agents or are invalid land in `skipped` with a reason; when two files define the same
 * `name` the first one (in that order) wins. Throws {@link AgentDirectoryError} when `dir` is
 * missing or not a directory; never throws for a bad file.
 */
export async function loadAgentDirectory(dir: string): Promise<AgentLoadResult> {
  const root = resolve(dir);
  let info;
  try {
    info = await stat(root);
  } catch (e) {
    throw new AgentDirectoryError(dir, `agent directory ${dir} does not exist`, { cause: e });
  }
  if (!info.isDirectory()) {
    throw new AgentDirectoryError(dir, `agent directory ${dir} is not a directory`);
  }

  const files = (await findMarkdownFiles(root, new Set())).map((path) => ({
    path,
    file: relative(root, path).split(sep).join('/'),
  }));
  files.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));

  const loaded: AgentDefinition[] = [];
  const skipped: SkippedAgentFile[] = [];
  const firstFileByName = new Map<string, string>();
  for (const { file, path } of files) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      skipped.push({ file, reason: `cannot read file: ${(e as Error).message}` });
      continue;
    }
    const result = parseAgentFile(text, file, path);
    if ('reason' in result) {
      skipped.push(result);
      continue;
    }
    const first = firstFileByName.get(result.name);
    if (first !== undefined) {
      skipped.push({
        file,
        reason: `duplicate agent name "${result.name}": already defined in ${first}`,
      });
      continue;
    }
    firstFileByName.set(result.name, file);
    loaded.push(result);
  }
  return { loaded, skipped };
}

/** Absolute paths of `*.md` files below `dir`; `seen` holds real paths of visited directories. */
async function findMarkdownFiles(dir: string, seen: Set<string>): Promise<string[]> {
  const real = await realpath(dir);
  if (seen.has(real)) return [];
  seen.add(real);
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    if (entry.isSymbolicLink()) {
      const target = await stat(path).catch(() => undefined);
      if (!target) continue; // dangling link
      isDir = target.isDirectory();
      isFile = target.isFile();
    }
    if (isDir) found.push(...(await findMarkdownFiles(path, seen)));
    else if (isFile && entry.name.endsWith('.md')) found.push(path);
  }
  return found;
}
