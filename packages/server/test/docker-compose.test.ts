/**
 * The root `docker-compose.yml` and `Dockerfile`, checked without a Docker
 * engine: `docker-compose config` (Debian's docker-compose package) parses and
 * resolves the file, and its resolved form must hold the stack the README
 * promises. Skipped, with a message, only where that tool is not installed.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVER_DIR } from './processes.js';

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
  });
});

describe('Dockerfile', () => {
  it('is multi-stage on Node 20 and runs the built server', () => {
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
    expect(dockerfile).toMatch(/^HEALTHCHECK /m);
    expect(dockerfile).toMatch(/^CMD \["node", "packages\/server\/dist\/main.js"\]$/m);
  });
});
