import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..', '..');
export const SWC_REGISTER = join(__dirname, 'swc-register.js');

/** Runs a TypeScript file of this repo in a new node process (compiled on the fly by swc). */
export function spawnTs(file: string, args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['-r', SWC_REGISTER, join(ROOT, file), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Reads `@@ ` protocol lines from a child's stdout, one `next()` at a time. */
export class LineReader {
  private readonly lines: string[] = [];
  private waiter: ((line: string) => void) | undefined;
  private buffer = '';
  stderr = '';

  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      this.buffer += chunk;
      let i: number;
      while ((i = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 1);
        if (!line.startsWith('@@ ')) continue;
        const w = this.waiter;
        if (w) {
          this.waiter = undefined;
          w(line.slice(3));
        } else this.lines.push(line.slice(3));
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
  }

  next(timeoutMs = 15_000): Promise<string> {
    const ready = this.lines.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no line from child within ${timeoutMs} ms; stderr: ${this.stderr}`));
      }, timeoutMs);
      this.waiter = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
    });
  }

  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }
}

/** Ends a child: SIGCONT (in case it is stopped), then SIGTERM, then SIGKILL after a while. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGCONT');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
