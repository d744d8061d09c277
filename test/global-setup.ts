/**
 * Vitest global setup of the `repo` project: the examples run the built server and tracker, so build the
 * server when stale (as the server project does) and the SDK when it has never been built. (`npm pack`
 * rebuilds every package through `prepack` anyway.)
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureServerBuilt } from '../packages/server/test/processes.js';
import { ROOT } from './helpers.js';

export default function setup(): void {
  ensureServerBuilt();
  if (!existsSync(join(ROOT, 'packages', 'sdk', 'dist', 'tally.js'))) {
    execFileSync('npm', ['run', 'build', '-w', '@tally/sdk', '--silent'], { cwd: ROOT, stdio: 'pipe' });
  }
}
