import { setMaxListeners } from 'node:events';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ExecutionFailure } from '../executors/execution-error';
import type { BuiltinHandler } from './builtin-handler.type';
import { listSourceFiles, type ReviewReport, reviewPath } from './code-review.analyzer';
import { confinePath } from './confine-path.util';

export const codeReviewPayloadSchema = z.object({
  /** Directory (or file) to review, relative to the worker's directory. */
  path: z.string().min(1),
  maxFunctionLines: z.number().int().min(1).optional(),
  /** Most findings / exports returned (default 2000 each); the summary still counts them all. */
  maxItems: z.number().int().min(1).max(100_000).optional(),
  /**
   * Fan out: each subdirectory of `path` (a module) is reviewed by a child `code-review` task
   * delegated through Switchyard (`ctx.delegate`, all at once); the files directly in `path` are
   * reviewed here. The answer merges them, with one entry per module in `modules`.
   */
  perModule: z.boolean().optional(),
});

/** One module of a fanned-out review: what its child task found. */
export interface ModuleReview {
  path: string;
  files: number;
  findings: number;
  exports: number;
}

/** A review that was fanned out per module. */
export type FannedOutReview = ReviewReport & { modules: ModuleReview[] };

const SKIPPED_MODULES = new Set(['node_modules', 'dist', 'build', 'coverage']);

/** The subdirectories of `dir` that hold TypeScript to review (sorted), and its own files. */
async function modulesOf(dir: string): Promise<{ modules: string[]; files: string[] }> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  const modules: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.') || SKIPPED_MODULES.has(e.name)) continue;
    if ((await listSourceFiles(join(dir, e.name))).length > 0) modules.push(e.name);
  }
  const files = (await listSourceFiles(dir)).filter((f) =>
    entries.some((e) => e.isFile() && join(dir, e.name) === f),
  );
  return { modules, files };
}

/** Merges module reviews into one report of `path`, recounting the summary. */
export function mergeReviews(path: string, parts: ReviewReport[], maxItems = 2000): ReviewReport {
  const merged: ReviewReport = {
    path,
    files: parts.flatMap((p) => p.files),
    findings: parts.flatMap((p) => p.findings),
    exports: parts.flatMap((p) => p.exports),
    summary: {
      files: 0,
      lines: parts.reduce((n, p) => n + p.summary.lines, 0),
      exports: parts.reduce((n, p) => n + p.summary.exports, 0),
      documentedExports: parts.reduce((n, p) => n + p.summary.documentedExports, 0),
      findings: parts.reduce((n, p) => n + p.summary.findings, 0),
      byRule: {
        'undocumented-export': 0,
        'long-function': 0,
        'explicit-any': 0,
        'todo-comment': 0,
      },
      truncated: parts.some((p) => p.summary.truncated),
    },
  };
  merged.summary.files = merged.files.length;
  for (const p of parts) {
    for (const [rule, n] of Object.entries(p.summary.byRule)) {
      merged.summary.byRule[rule as keyof ReviewReport['summary']['byRule']] += n;
    }
  }
  if (merged.findings.length > maxItems || merged.exports.length > maxItems) {
    merged.summary.truncated = true;
    merged.findings = merged.findings.slice(0, maxItems);
    merged.exports = merged.exports.slice(0, maxItems);
  }
  return merged;
}

/**
 * `code-reviewer`: reviews the TypeScript under `payload.path` with the TypeScript compiler API:
 * exported symbols without doc comments, functions over `maxFunctionLines`, explicit `any`,
 * TODO/FIXME comments — each finding with file and line — plus the list of exported symbols.
 */
export function codeReviewerHandler(options: {
  root: string;
  maxFunctionLines: number;
}): BuiltinHandler {
  return async (request, ctx) => {
    const parsed = codeReviewPayloadSchema.safeParse(request.payload);
    if (!parsed.success) {
      throw new ExecutionFailure(
        'validation',
        `code-reviewer payload: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
      );
    }
    const target = confinePath(options.root, parsed.data.path, 'path');
    try {
      await stat(target);
    } catch {
      throw new ExecutionFailure('not_found', `code-reviewer: ${parsed.data.path} does not exist`);
    }
    const reviewOptions = {
      maxFunctionLines: parsed.data.maxFunctionLines ?? options.maxFunctionLines,
      signal: ctx.signal,
      baseDir: options.root,
      maxItems: parsed.data.maxItems,
    };
    if (!parsed.data.perModule || !(await stat(target)).isDirectory()) {
      return reviewPath(target, parsed.data.path, reviewOptions);
    }
    const { modules, files } = await modulesOf(target);
    // Each waiting delegation listens on the task's signal (for cancellation), a few per module.
    setMaxListeners(modules.length * 4 + 10, ctx.signal);
    // Every module at once: the children run on whichever reviewer agents are free.
    const children = await Promise.all(
      modules.map(async (m) => {
        const path = join(parsed.data.path, m);
        const { perModule: _, ...rest } = parsed.data;
        const review = (await ctx.delegate(
          'code-review',
          { ...rest, path },
          { signal: ctx.signal },
        )) as ReviewReport;
        return review;
      }),
    );
    const own = await Promise.all(files.map((f) => reviewPath(f, parsed.data.path, reviewOptions)));
    const merged = mergeReviews(parsed.data.path, [...own, ...children], parsed.data.maxItems);
    const result: FannedOutReview = {
      ...merged,
      modules: children.map((c) => ({
        path: c.path,
        files: c.summary.files,
        findings: c.summary.findings,
        exports: c.summary.exports,
      })),
    };
    return result;
  };
}
