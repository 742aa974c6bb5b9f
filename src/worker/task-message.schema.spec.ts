import { randomUUID } from 'node:crypto';
import type { AgentMessage } from '../bus/agent-message.schema';
import { executionRequestFromMessage } from './task-message.schema';

const message = (over: Partial<AgentMessage>): AgentMessage => ({
  id: randomUUID(),
  fromAgent: 'orchestrator',
  toAgent: 'code-reviewer',
  messageType: 'task',
  payload: {},
  correlationId: 'c1',
  timestamp: new Date().toISOString(),
  priority: 5,
  attempt: 0,
  ...over,
});

describe('executionRequestFromMessage', () => {
  it('maps a task message to an execution request', () => {
    expect(
      executionRequestFromMessage(
        message({
          taskId: 't1',
          attempt: 2,
          payload: {
            capability: 'code-review',
            payload: { path: 'src' },
            inputs: { a: 1 },
            timeoutMs: 5000,
            workflowId: 'w',
            ref: 'review',
          },
        }),
      ),
    ).toEqual({
      taskId: 't1',
      attempt: 2,
      capability: 'code-review',
      payload: { path: 'src' },
      inputs: { a: 1 },
      timeoutMs: 5000,
      workflowId: 'w',
      ref: 'review',
    });
  });

  it('refuses a message without taskId or capability', () => {
    expect(() => executionRequestFromMessage(message({ payload: { capability: 'x' } }))).toThrow(
      /no taskId/,
    );
    expect(() =>
      executionRequestFromMessage(message({ taskId: 't', payload: { payload: 1 } })),
    ).toThrow(/capability/);
  });
});
