import { relative, sep } from 'node:path';
import { z } from 'zod';
import { ExecutionFailure } from '../executors/execution-error';
import type { ExecutionRequest } from '../executors/executor.types';
import type { BuiltinHandler } from './builtin-handler.type';
import type { ReviewReport } from './code-review.analyzer';
import { writeReportFile } from './report-file.util';
import { renderReviewMarkdown } from './review-markdown.util';

export const docWriterPayloadSchema = z
  .object({
    /**
     * Where the report goes, relative to the worker's directory (default
     * `<reportsDir>/<workflow or task id>.md`); it must be inside `reportsDir` and end with .md.
     */
    outPath: z.string().min(1).max(1024).optional(),
    /** Heading of the report (control characters and newlines become spaces). */
    title: z.string().min(1).max(500).optional(),
    /** Replace an existing report (never an executable, a symlink or a file with other links). */
    overwrite: z.boolean().optional(),
  })
  .nullish();

const reviewShape = z.looseObject({
  path: z.string(),
  findings: z.array(
    z.looseObject({
      file: z.string(),
      line: z.number(),
      rule: z.string(),
      message: z.string(),
      symbol: z.string().optional(),
    }),
  ),
  exports: z.array(
    z.looseObject({
      file: z.string(),
      name: z.string(),
      kind: z.string(),
      line: z.number(),
      doc: z.string().optional(),
      signature: z.string().optional(),
    }),
  ),
});

/**
 * The code-review results among a task's inputs: any input that has the review shape, directly or
 * under `data` (the output of a `claude` code-reviewer that answered with JSON).
 */
export function findReviews(
  inputs: Record<string, unknown> | undefined,
): { key: string; review: ReviewReport }[] {
  const found: { key: string; review: ReviewReport }[] = [];
  // The queue gives a dependency's result under its task id and its workflow ref; after the
  // bus those are two equal copies, so duplicates are recognised by content, not identity.
  const seen = new Set<string>();
  for (const [key, value] of Object.entries(inputs ?? {})) {
    for (const candidate of [
      value,
      value && typeof value === 'object' && 'data' in value ? value.data : undefined,
    ]) {
      if (candidate === undefined) continue;
      const r = reviewShape.safeParse(candidate);
      if (r.success) {
        const signature = JSON.stringify(candidate);
        if (seen.has(signature)) break;
        seen.add(signature);
        found.push({ key, review: candidate as ReviewReport });
        break;
      }
    }
  }
  return found;
}

function defaultOutPath(reportsDir: string, request: ExecutionRequest): string {
  const id = (request.workflowId ?? request.taskId).replace(/[^A-Za-z0-9._-]/g, '_');
  return `${reportsDir}/${id}.md`;
}

/**
 * `doc-writer`: writes a Markdown API overview and review report from the code-review result its
 * dependency produced (found in `request.inputs`, keyed by the dependency's ref/id). It writes
 * only under `reportsDir` (WORKER_REPORTS_DIR), creates a new file unless `overwrite` is set and
 * never replaces an executable; see {@link writeReportFile}.
 */
export function docWriterHandler(options: { root: string; reportsDir: string }): BuiltinHandler {
  return async (request, ctx) => {
    const parsed = docWriterPayloadSchema.safeParse(request.payload);
    if (!parsed.success) {
      throw new ExecutionFailure(
        'validation',
        `doc-writer payload: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
      );
    }
    const payload = parsed.data ?? {};
    const reviews = findReviews(request.inputs);
    if (reviews.length === 0) {
      throw new ExecutionFailure(
        'validation',
        `doc-writer needs a code-review result among its inputs (got keys: ${Object.keys(request.inputs ?? {}).join(', ') || 'none'}); make the task depend on a code-review task`,
      );
    }
    // Inputs are keyed by task id and by ref: the same review can appear twice.
    const unique = reviews.filter((r, i) => reviews.findIndex((o) => o.review === r.review) === i);
    ctx.signal.throwIfAborted();
    const outPath = payload.outPath ?? defaultOutPath(options.reportsDir, request);
    const { markdown, sections } = renderReviewMarkdown(
      unique.map((r) => r.review),
      { title: payload.title, taskId: request.taskId, workflowId: request.workflowId },
    );
    const full = await writeReportFile({
      root: options.root,
      outputDir: options.reportsDir,
      path: outPath,
      content: markdown,
      overwrite: payload.overwrite ?? false,
      signal: ctx.signal,
    });
    return {
      reportPath: relative(options.root, full).split(sep).join('/'),
      sections,
      findings: unique.reduce((n, r) => n + r.review.findings.length, 0),
      exports: unique.reduce((n, r) => n + r.review.exports.length, 0),
      bytes: Buffer.byteLength(markdown),
    };
  };
}
