import { AppException } from '../common/errors/app.exception';
import { validateWorkflow } from './workflow-validation.util';
import type { CreateWorkflowInput } from './task.schemas';

const wf = (tasks: CreateWorkflowInput['tasks']): CreateWorkflowInput => ({ tasks });
const problem = (fn: () => void): { message: string; details: unknown } => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AppException);
    return { message: (e as AppException).message, details: (e as AppException).details };
  }
  throw new Error('expected a validation error');
};

describe('validateWorkflow', () => {
  it('accepts a diamond', () => {
    expect(() =>
      validateWorkflow(
        wf([
          { ref: 'a', capability: 'x' },
          { ref: 'b', capability: 'x', dependsOn: ['a'] },
          { ref: 'c', capability: 'x', dependsOn: ['a'] },
          { ref: 'd', capability: 'x', dependsOn: ['b', 'c'] },
        ]),
        10,
      ),
    ).not.toThrow();
  });

  it('refuses too many tasks, naming the limit', () => {
    const p = problem(() =>
      validateWorkflow(
        wf([
          { ref: 'a', capability: 'x' },
          { ref: 'b', capability: 'x' },
        ]),
        1,
      ),
    );
    expect(p.message).toContain('at most 1 tasks');
  });

  it('names duplicate refs, duplicate ids and unknown refs field by field', () => {
    const p = problem(() =>
      validateWorkflow(
        wf([
          { ref: 'a', id: 'same', capability: 'x' },
          { ref: 'a', id: 'same', capability: 'x', dependsOn: ['nope'] },
        ]),
        10,
      ),
    );
    expect(p.details).toEqual({
      fields: [
        { field: 'tasks.1.ref', message: "duplicate ref 'a'" },
        { field: 'tasks.1.id', message: "duplicate id 'same'" },
        { field: 'tasks.1.dependsOn.0', message: "unknown ref 'nope'" },
      ],
    });
  });

  it('refuses a cycle and names it', () => {
    const p = problem(() =>
      validateWorkflow(
        wf([
          { ref: 'a', capability: 'x', dependsOn: ['c'] },
          { ref: 'b', capability: 'x', dependsOn: ['a'] },
          { ref: 'c', capability: 'x', dependsOn: ['b'] },
        ]),
        10,
      ),
    );
    expect(p.message).toMatch(/dependency cycle: (a|b|c) -> .* -> \1/);
    expect((p.details as { cycle: string[] }).cycle).toHaveLength(3);
  });
});
