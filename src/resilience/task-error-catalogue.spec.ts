import { EXECUTION_ERROR_TYPES, failure } from '../worker/executors/execution-error';
import { defaultErrorClassifier } from './error-classifier';
import { DEFAULT_RETRY_POLICY, decideRetry, shouldRetryError, toTaskError } from './retry-policy';
import {
  countsAgainstAgent,
  countsAgainstRetries,
  isAgentFault,
  isRetryableType,
  TASK_ERROR_CATALOGUE,
  TaskErrorType,
} from './task-error-catalogue';

type Row = [TaskErrorType, boolean, boolean, boolean, boolean];

/** type, retryable, countsAgainstAgent, countsAgainstRetries, agentFault */
const TABLE: Row[] = [
  [TaskErrorType.Timeout, true, true, true, true],
  [TaskErrorType.Connection, true, true, true, true],
  [TaskErrorType.AgentBusy, true, true, true, true],
  [TaskErrorType.AgentUnavailable, true, true, true, true],
  [TaskErrorType.RateLimited, true, true, true, true],
  [TaskErrorType.UpstreamError, true, true, true, true],
  [TaskErrorType.AgentLost, true, true, false, true],
  [TaskErrorType.Drained, true, false, false, false],
  [TaskErrorType.Undelivered, true, false, false, false],
  [TaskErrorType.Stalled, true, false, false, false],
  [TaskErrorType.NoAgent, true, false, false, false],
  [TaskErrorType.DispatchError, true, false, true, false],
  [TaskErrorType.Internal, true, false, true, false],
  [TaskErrorType.BadOutput, false, true, true, true],
  [TaskErrorType.OutputTooLarge, false, true, true, true],
  [TaskErrorType.ExitNonzero, false, true, true, true],
  [TaskErrorType.HttpStatus, false, true, true, true],
  [TaskErrorType.AgentError, false, true, true, true],
  [TaskErrorType.MaxTurns, false, true, true, true],
  [TaskErrorType.HandlerError, false, true, true, true],
  [TaskErrorType.Validation, false, false, true, false],
  [TaskErrorType.BadInput, false, false, true, false],
  [TaskErrorType.Auth, false, false, true, false],
  [TaskErrorType.Forbidden, false, false, true, false],
  [TaskErrorType.NotFound, false, false, true, false],
  [TaskErrorType.RefusedAddress, false, false, true, false],
  [TaskErrorType.BudgetExceeded, false, false, true, false],
  [TaskErrorType.DelegationFailed, false, false, true, false],
  [TaskErrorType.MergeConflict, false, false, true, false],
  [TaskErrorType.UpstreamFailed, false, false, true, false],
  [TaskErrorType.Cancelled, false, false, true, false],
];

describe('task-error catalogue', () => {
  it('the table covers every type of the catalogue exactly once', () => {
    expect(TABLE.map(([t]) => t).sort()).toEqual(Object.values(TaskErrorType).sort());
  });

  describe.each(TABLE)('%s', (type, retryable, againstAgent, againstRetries, agentFault) => {
    it('has the traits of the table', () => {
      expect(TASK_ERROR_CATALOGUE[type]).toEqual({
        retryable,
        countsAgainstAgent: againstAgent,
        countsAgainstRetries: againstRetries,
        agentFault,
      });
      expect(isRetryableType(type)).toBe(retryable);
      expect(countsAgainstAgent(type)).toBe(againstAgent);
      expect(countsAgainstRetries(type)).toBe(againstRetries);
      expect(isAgentFault(type)).toBe(agentFault);
    });

    it('decides the retry whatever `retryable` flag the error was reported with', () => {
      for (const reported of [true, false]) {
        const error = { type, message: 'x', retryable: reported };
        expect(shouldRetryError(error)).toBe(retryable);
        const decision = decideRetry(error, 0, DEFAULT_RETRY_POLICY, () => 0.5);
        expect(decision.retry).toBe(retryable);
      }
    });

    it('is counted by the breaker as the catalogue says (timeouts also per BREAKER_COUNT_TIMEOUTS)', () => {
      const error = { type, message: 'x', retryable };
      expect(defaultErrorClassifier({ countTimeouts: true })(error)).toBe(againstAgent);
      // An error carrying a task error (the orchestrator's AgentReportedFailure) is judged the same.
      const carrying = Object.assign(new Error('x'), { error });
      expect(defaultErrorClassifier({ countTimeouts: true })(carrying)).toBe(againstAgent);
      expect(defaultErrorClassifier({ countTimeouts: false })(error)).toBe(
        type === TaskErrorType.Timeout ? false : againstAgent,
      );
    });
  });

  it('gives executors the retry class of the catalogue for every execution error type', () => {
    for (const [type, retryable] of Object.entries(EXECUTION_ERROR_TYPES)) {
      expect(retryable).toBe(TASK_ERROR_CATALOGUE[type as TaskErrorType].retryable);
      expect(failure(type as keyof typeof EXECUTION_ERROR_TYPES, 'x').error.retryable).toBe(
        retryable,
      );
    }
  });

  it('an unknown type keeps its reported flag and counts against the agent', () => {
    expect(shouldRetryError({ type: 'custom_thing', message: 'x', retryable: true })).toBe(true);
    expect(shouldRetryError({ type: 'custom_thing', message: 'x', retryable: false })).toBe(false);
    expect(countsAgainstAgent('custom_thing')).toBe(true);
    expect(countsAgainstRetries('custom_thing')).toBe(true);
    expect(isAgentFault('custom_thing')).toBe(true);
  });

  it('classifies thrown errors by name and code, not by message', () => {
    const named = (name: string, message = 'connection refused') =>
      Object.assign(new Error(message), { name });
    const coded = (code: string) => Object.assign(new Error('timeout'), { code });
    expect(toTaskError(named('TimeoutError')).type).toBe(TaskErrorType.Timeout);
    expect(toTaskError(named('AbortError')).type).toBe(TaskErrorType.Timeout);
    expect(toTaskError(coded('ETIMEDOUT')).type).toBe(TaskErrorType.Timeout);
    expect(toTaskError(coded('ECONNREFUSED')).type).toBe(TaskErrorType.Connection);
    expect(toTaskError(coded('EPIPE'))).toMatchObject({ type: 'connection', retryable: true });
    // The message says "timeout"/"connection refused"; only name/code count.
    expect(toTaskError(new Error('timeout: connection refused')).type).toBe(TaskErrorType.Internal);
  });
});
