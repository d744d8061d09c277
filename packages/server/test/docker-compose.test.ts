/**
 * The root `docker-compose.yml` and `Dockerfile`, checked without a Docker
 * engine: `docker-compose config` (Debian's docker-compose package) parses and
 * resolves the file, and its resolved form must hold the stack the README
 * promises. Skipped, with a message, only where that tool is not installed.
 * The image's health probe (`packages/server/healthcheck.mjs`) runs for real,
 * against a stand-in server, with the environment each role gets.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, SERVER_DIR } from './processes.js';

const ROOT = join(SERVER_DIR, '..', '..');
const hasCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
if (!hasCompose) {
  console.warn('docker-compose is not installed: skipping the compose file check (apt-get install -y docker-compose).');
}

function compose(...args: string[]) {
  const result = spawnSync('docker-compose', ['-f', join(ROOT, 'docker-compose.yml'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
    // Unset so the defaults in the file are what is checked.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
  });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout;
}

/** The block of one service in `docker-compose config` output (two-space indented under `services:`). */
function serviceBlock(config: string, name: string): string {
  const match = new RegExp(`^  ${name}:\\n((?:    .*\\n|\\s*\\n)+)`, 'm').exec(config);
  if (!match?.[1]) throw new Error(`service ${name} not found in:\n${config}`);
  return match[1];
}

describe.skipIf(!hasCompose)('docker-compose.yml', () => {
  it('resolves to postgres:16, redis:7 without eviction and with an append-only file, the API and scalable workers', () => {
    expect(compose('config', '--services').trim().split('\n').sort()).toEqual(['api', 'postgres', 'redis', 'worker']);
    const config = compose('config');

    const postgres = serviceBlock(config, 'postgres');
    expect(postgres).toMatch(/image: postgres:16\n/);
    const redis = serviceBlock(config, 'redis');
    expect(redis).toMatch(/image: redis:7\n/);
    expect(redis).toMatch(/- --maxmemory-policy\n\s+- noeviction\n/);
    expect(redis).toMatch(/- --appendonly\n\s+- "?yes"?\n/);

    const api = serviceBlock(config, 'api');
    expect(api).toMatch(/ROLE: api\n/);
    expect(api).toMatch(/published: 3000/);
    const worker = serviceBlock(config, 'worker');
    expect(worker).toMatch(/ROLE: worker\n/);
    // `--scale worker=N` needs a worker without a fixed name or a published port.
    expect(worker).not.toMatch(/container_name:|ports:/);
    for (const service of [api, worker]) {
      expect(service).toMatch(/DATABASE_URL: postgres:\/\/\S+@postgres:5432\//);
      expect(service).toMatch(/REDIS_URL: redis:\/\/redis:6379/);
      expect(service).toMatch(/QUEUE_PREFIX: '\{tally\}'/);
      expect(service).toMatch(/postgres:\n\s+condition: service_healthy/);
      expect(service).toMatch(/redis:\n\s+condition: service_healthy/);
      expect(service).toMatch(/build:\n\s+context: /);
    }
    for (const [name, block] of Object.entries({ postgres, redis, api, worker })) {
      expect(block, `${name} has no healthcheck`).toMatch(/healthcheck:\n\s+interval: /);
    }
    // Both run the image's probe for readiness; it picks PORT or METRICS_PORT by ROLE, so the worker needs its port.
    for (const service of [api, worker]) {
      expect(service).toMatch(/test:\n\s+- CMD\n\s+- node\n\s+- packages\/server\/healthcheck\.mjs\n\s+- \/readyz\n/);
    }
    expect(worker).toMatch(/METRICS_PORT: ['"]?9464['"]?\n/);
  });
});

describe('Dockerfile', () => {
  it('is multi-stage on Node 20 and runs the built server with the flags npm start uses', async () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const stages = [...dockerfile.matchAll(/^FROM (\S+) AS (\S+)$/gm)].map((m) => [m[1], m[2]]);
    expect(stages).toEqual([
      ['node:20-bookworm-slim', 'build'],
      ['node:20-bookworm-slim', 'runtime'],
    ]);
    expect(dockerfile).toMatch(/^RUN npm ci /m);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    expect(dockerfile).toMatch(/^COPY --from=build \/app\/packages\/server\/drizzle /m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\\\n\s+CMD \["node", "packages\/server\/healthcheck\.mjs"\]$/m);
    expect(dockerfile).toMatch(/^COPY --from=build \/app\/packages\/server\/healthcheck\.mjs \.\/packages\/server\/$/m);
    const command = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
    const { SERVER_NODE_FLAGS } = (await import(pathToFileURL(join(ROOT, 'scripts/server-flags.mjs')).href)) as {
      SERVER_NODE_FLAGS: string[];
    };
    expect(SERVER_NODE_FLAGS.length).toBeGreaterThan(0);
    expect(JSON.parse(command ?? 'null')).toEqual(['node', ...SERVER_NODE_FLAGS, 'packages/server/dist/main.js']);
  });
});

describe('the health probe (packages/server/healthcheck.mjs)', () => {
  const PROBE = join(SERVER_DIR, 'healthcheck.mjs');
  let port: number;
  let deadPort: number;
  let ready = true;
  const stub = createServer((request, response) => {
    const ok = request.url === '/healthz' || (request.url === '/readyz' && ready);
    response.writeHead(ok ? 200 : 503).end();
  });

  beforeAll(async () => {
    await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
    port = (stub.address() as AddressInfo).port;
    deadPort = await freePort();
  });
  afterAll(() => new Promise((resolve) => stub.close(resolve)));

  /** Runs the probe as the image does, with only the given variables; resolves to its exit code and output. */
  function probe(env: Record<string, string>, ...args: string[]) {
    return new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, [PROBE, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
      let output = '';
      child.stdout.on('data', (chunk) => {
        output += chunk;
      });
      child.on('exit', (code) => resolve({ code, output }));
    });
  }

  it('probes PORT for the api and all roles (all is the default)', async () => {
    expect((await probe({ PORT: String(port) })).code).toBe(0);
    expect((await probe({ ROLE: 'all', PORT: String(port) })).code).toBe(0);
    expect((await probe({ ROLE: 'api', PORT: String(port), METRICS_PORT: String(deadPort) })).code).toBe(0);
    const down = await probe({ ROLE: 'api', PORT: String(deadPort) });
    expect(down.code).toBe(1);
    expect(down.output).toMatch(/ECONNREFUSED/);
  });

  it('probes METRICS_PORT for a worker that has one', async () => {
    expect((await probe({ ROLE: 'worker', PORT: String(deadPort), METRICS_PORT: String(port) })).code).toBe(0);
    expect((await probe({ ROLE: 'worker', PORT: String(port), METRICS_PORT: String(deadPort) })).code).toBe(1);
  });

  it('passes a worker without METRICS_PORT, saying there is nothing to probe', async () => {
    // The image sets PORT=3000, where a worker listens on nothing: probing it would mark every worker unhealthy.
    const result = await probe({ ROLE: 'worker', PORT: String(deadPort) });
    expect(result.code).toBe(0);
    expect(result.output).toMatch(/without METRICS_PORT/);
  });

  it('asks for readiness when given /readyz, and fails on a 503', async () => {
    ready = false;
    try {
      expect((await probe({ PORT: String(port) })).code).toBe(0);
      const notReady = await probe({ PORT: String(port) }, '/readyz');
      expect(notReady.code).toBe(1);
      expect(notReady.output).toMatch(/\/readyz: 503/);
    } finally {
      ready = true;
    }
    expect((await probe({ ROLE: 'worker', METRICS_PORT: String(port) }, '/readyz')).code).toBe(0);
  });
});
