/** Vitest global setup for the server project: the child-process tests run the built bundle, so build it if stale. */
import { ensureServerBuilt } from './processes.js';

export default function setup(): void {
  ensureServerBuilt();
}
