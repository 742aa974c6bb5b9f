/** A bus wait (request/response, waitForResponse) ran out of time. `name` is 'TimeoutError'. */
export class BusTimeoutError extends Error {
  constructor(
    message: string,
    readonly correlationId: string,
    readonly timeoutMs: number,
  ) {
    super(message);
    this.name = 'TimeoutError';
  }
}
