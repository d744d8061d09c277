/**
 * Global setup of the `sdk-browser` project: builds the SDK (tsup) once so
 * that the size test and the Chromium test run the exact `dist/tally.js`
 * that ships, never a stale one.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SDK_DIR = fileURLToPath(new URL('..', import.meta.url));

export default function buildSdk(): void {
  const tsupDir = dirname(createRequire(import.meta.url).resolve('tsup/package.json'));
  execFileSync(process.execPath, [join(tsupDir, 'dist/cli-default.js')], { cwd: SDK_DIR, stdio: 'pipe' });
}
