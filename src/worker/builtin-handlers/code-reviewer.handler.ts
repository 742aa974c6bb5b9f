import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { ExecutionFailure } from '../executors/execution-error';
import type { BuiltinHandler } from './builtin-handler.type';
import { reviewPath } from './code-review.analyzer';
import { confinePath } from './confine-path.util';

export const codeReviewPayloadSchema = z.object({
  /** Directory (or file) to review, relative to the worker's directory. */
  path: z.string().min(1),
  maxFunctionLines: z.number().int().min(1).optional(),
  /** Most findings / exports returned (default 2000 each); the summary still counts them all. */
  maxItems: z.number().int().min(1).max(100_000).optional(),
});

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
    return reviewPath(target, parsed.data.path, {
      maxFunctionLines: parsed.data.maxFunctionLines ?? options.maxFunctionLines,
      signal: ctx.signal,
      baseDir: options.root,
      maxItems: parsed.data.maxItems,
    });
  };
}
