/** What the bench scripts know of their processes: memory read from `/proc`, and when one has exited. */
import { readFileSync } from 'node:fs';

/** A process's resident memory, MB; 0 once it is gone. */
export function rssMb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** Resolves once a child process has exited (at once if it has). */
export const exited = (child) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', resolve));
