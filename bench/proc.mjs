/** What the bench scripts know of their processes: memory read from `/proc`, and stopping them. */
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

const exited = (child) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', resolve));

/** Sends SIGTERM to each child and resolves once all have exited, or after `ms` at most. */
export function stopChildren(children, ms = 10_000) {
  for (const child of children) child.kill('SIGTERM');
  return Promise.race([Promise.all(children.map(exited)), new Promise((resolve) => setTimeout(resolve, ms))]);
}
