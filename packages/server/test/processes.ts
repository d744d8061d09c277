/**
 * Runs the built server (`dist/main.js`, what `npm start` runs) as child
 * processes, for the tests that need real processes: the embedded default
 * across a restart, and split API/worker roles. Every child is bounded in time
 * and killed by `stopAll()`, which each such test file calls in `afterAll`.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SERVER_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SERVER_BUNDLE = join(SERVER_DIR, 'dist', 'main.js');

function newestFileTime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestFileTime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds the server bundle when it is missing or older than a source file (CI builds before testing). */
export function ensureServerBuilt(): void {
  const sources = [join(SERVER_DIR, 'src'), join(SERVER_DIR, '..', 'shared', 'src')];
  if (existsSync(SERVER_BUNDLE) && statSync(SERVER_BUNDLE).mtimeMs >= Math.max(...sources.map(newestFileTime))) return;
  const build = spawnSync('npm', ['run', 'build', '-w', '@tally/server', '--silent'], {
    cwd: join(SERVER_DIR, '..', '..'),
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (build.status !== 0) throw new Error(`server build failed:\n${build.stdout}\n${build.stderr}`);
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The variables that would point a child at services; removed so only what a test passes counts. */
const SERVICE_VARIABLES = [
  'DATABASE_URL',
  'STATS_DATABASE_URL',
  'REDIS_URL',
  'REDIS_HOST',
  'REDIS_PORT',
  'REDIS_DB',
  'REDIS_PASSWORD',
  'QUEUE_PREFIX',
  'ROLE',
  'PORT',
  'METRICS_PORT',
  'TALLY_DATA_DIR',
  'NODE_ENV',
  'LOG_LEVEL',
];

export interface ServerProcess {
  child: ChildProcess;
  /** Where its health answers: PORT for the API, METRICS_PORT for a worker. */
  baseUrl: string;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  /** SIGTERM, then waits for it to exit (SIGKILL after `timeoutMs`); resolves to the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
}

const running = new Set<ServerProcess>();

export interface StartOptions {
  cwd: string;
  env: Record<string, string>;
  /** The port whose `/healthz` says it is up. */
  healthPort: number;
  startTimeoutMs?: number;
}

export async function startServerProcess({
  cwd,
  env,
  healthPort,
  startTimeoutMs = 60_000,
}: StartOptions): Promise<ServerProcess> {
  const baseEnv = { ...process.env };
  for (const name of SERVICE_VARIABLES) delete baseEnv[name];
  const child = spawn(process.execPath, [SERVER_BUNDLE], {
    cwd,
    env: { ...baseEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const server: ServerProcess = {
    child,
    baseUrl: `http://127.0.0.1:${healthPort}`,
    output: () => output,
    async stop(timeoutMs = 30_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      running.delete(server);
      return code;
    },
  };
  running.add(server);

  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} while starting:\n${output}`);
    try {
      const response = await fetch(`${server.baseUrl}/healthz`);
      if (response.ok) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await server.stop(1_000);
      throw new Error(`server did not answer /healthz within ${startTimeoutMs} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Kills every child still running; for `afterAll`. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop(5_000)));
}

/** Polls `check` until it returns a value, or throws after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
