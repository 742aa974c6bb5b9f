/** Injection token: the directory of agent definition files a worker process hosts. */
export const WORKER_AGENTS_DIR = Symbol('WORKER_AGENTS_DIR');
