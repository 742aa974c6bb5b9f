/** The bus address of a worker's control queue (cancels): `agent.worker.<id>.tasks`. */
export function workerControlId(workerId: string): string {
  return `worker.${workerId}`;
}
