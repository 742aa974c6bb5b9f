import type { ZodError } from 'zod';
import type { FieldProblem } from './app.exception';

/** Flattens a ZodError into one problem per bad field, with readable messages. */
export function zodProblems(error: ZodError): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const issue of error.issues) {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({ field: path ? `${path}.${key}` : key, message: 'unknown field' });
      }
      continue;
    }
    out.push({ field: path, message: issue.message });
  }
  return out;
}
