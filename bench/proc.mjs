/** What the bench scripts read of a process from `/proc`. */
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
