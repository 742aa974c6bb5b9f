/** An error the CLI reports as one message and a documented exit code (see main.ts EXIT). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    /** The HTTP status when the server answered with an error. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
