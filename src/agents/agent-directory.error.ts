/** `loadAgentDirectory` was given a path that is missing or not a directory. */
export class AgentDirectoryError extends Error {
  constructor(
    readonly dir: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AgentDirectoryError';
  }
}
