/**
 * What the repository-level tests share: running commands as a user would type them (npm, npx, node)
 * with an environment free of the outer `npm test`'s npm_* variables, and stopping the servers they
 * start by process group, since `npm run dev` and `npx vite` leave their real server a grandchild.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(fileURLToPath(import.meta.url), '..', '..');

/** npm settings a nested npm must keep (where its cache and registry are); every other npm_* is dropped. */
const KEEP = new Set(['npm_config_cache', 'npm_config_userconfig', 'npm_config_cafile', 'npm_config_registry']);

export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.toLowerCase().startsWith('npm_') || KEEP.has(name.toLowerCase())) env[name] = value;
  }
  // Variables that would point a started server or the examples somewhere else than the test says.
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'REDIS_HOST', 'PORT', 'TALLY_URL', 'TALLY_API_KEY', 'NODE_ENV']) {
    delete env[name];
  }
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; resolves whatever its exit code (`check` in the caller). */
export function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string | undefined>; timeoutMs?: number },
): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, env: cleanEnv(options.env), timeout: options.timeoutMs ?? 240_000, maxBuffer: 64 << 20 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Like `run`, but a failure throws with everything the command printed. */
export async function check(...args: Parameters<typeof run>): Promise<RunResult> {
  const result = await run(...args);
  if (result.code !== 0) {
    throw new Error(`${args[0]} ${args[1].join(' ')} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  }
  return result;
}

export interface Background {
  child: ChildProcess;
  output(): string;
  /** SIGTERM to the whole process group, SIGKILL after `timeoutMs`; resolves to the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
}

/** Starts a long-running command in a process group of its own. */
export function background(
  command: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string | undefined> },
): Background {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: cleanEnv(options.env),
    detached: true,
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
  const signal = (name: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, name);
    } catch {
      // already gone
    }
  };
  return {
    child,
    output: () => output,
    async stop(timeoutMs = 15_000) {
      if (child.exitCode === null && child.signalCode === null) signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      signal('SIGKILL'); // whatever of the group outlived its leader
      return code;
    },
  };
}
