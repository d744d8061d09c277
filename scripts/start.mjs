#!/usr/bin/env node
/**
 * `npm start`: builds the packages when a source file is newer than the
 * server's bundle (or there is none), then runs the server (with `server-flags.mjs`) in this process's
 * place, passing signals through so SIGTERM still shuts it down cleanly.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVER_NODE_FLAGS } from './server-flags.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'packages/server/dist/main.js');

function newestSourceTime(dir) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSourceTime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const sources = ['shared/src', 'sdk/src', 'server/src', 'server/drizzle'].map((dir) => join(root, 'packages', dir));
const stale = !existsSync(bundle) || Math.max(...sources.map(newestSourceTime)) > statSync(bundle).mtimeMs;
if (stale) {
  console.log('Building Tally…');
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

const server = spawn(process.execPath, [...SERVER_NODE_FLAGS, bundle], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.kill(signal));
server.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
