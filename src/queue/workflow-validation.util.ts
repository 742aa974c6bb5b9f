import { AppException, type FieldProblem } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code.enum';
import { findFirstCycle } from './dag.util';
import type { CreateWorkflowInput } from './task.schemas';

/**
 * Checks a workflow's shape before anything is stored: size, unique refs and ids, every
 * `dependsOn` naming a ref of the workflow, and no dependency cycle (400 naming the cycle).
 * Pure: no I/O.
 */
export function validateWorkflow(input: CreateWorkflowInput, maxTasks: number): void {
  if (input.tasks.length > maxTasks) {
    throw AppException.validation(`A workflow may have at most ${maxTasks} tasks`, [
      { field: 'tasks', message: `at most ${maxTasks} tasks (got ${input.tasks.length})` },
    ]);
  }
  const problems: FieldProblem[] = [];
  const byRef = new Map<string, number>();
  const explicitIds = new Set<string>();
  input.tasks.forEach((t, i) => {
    if (byRef.has(t.ref))
      problems.push({ field: `tasks.${i}.ref`, message: `duplicate ref '${t.ref}'` });
    byRef.set(t.ref, i);
    if (t.id !== undefined) {
      if (explicitIds.has(t.id))
        problems.push({ field: `tasks.${i}.id`, message: `duplicate id '${t.id}'` });
      explicitIds.add(t.id);
    }
  });
  input.tasks.forEach((t, i) =>
    (t.dependsOn ?? []).forEach((ref, j) => {
      if (!byRef.has(ref))
        problems.push({ field: `tasks.${i}.dependsOn.${j}`, message: `unknown ref '${ref}'` });
    }),
  );
  if (problems.length > 0) throw AppException.validation('Invalid workflow', problems);
  const cycle = findFirstCycle(
    new Map(input.tasks.map((t) => [t.ref, t.dependsOn ?? []] as const)),
  );
  if (cycle) {
    const text = [...cycle, cycle[0]].join(' -> ');
    throw new AppException(
      ErrorCode.ValidationFailed,
      `The workflow has a dependency cycle: ${text}`,
      {
        cycle,
        fields: [{ field: `tasks.${byRef.get(cycle[0])}.dependsOn`, message: `cycle ${text}` }],
      },
    );
  }
}
