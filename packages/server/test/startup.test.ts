/**
 * Starting the built server as an operator does, when things are not in
 * place: with PostgreSQL and Redis unreachable it listens at once (liveness
 * 200, readiness 503 naming both, ingestion 503 with Retry-After) and picks
 * them up when they come back; a taken port or a missing database is one
 * clear line and exit 1, never a stack dump.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ensureServerBuilt, freePort, SERVER_BUNDLE, startServerProcess, stopAll, waitFor } from './processes.js';
import {
  ADMIN_DATABASE_URL,
  createTestDatabase,
  deleteQueueKeys,
  pageView,
  startTcpProxy,
  TEST_REDIS_URL,
  type TestDatabase,
  uniqueQueuePrefix,
} from './support.js';

const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  await stopAll();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(stopAll);

/** Runs the bundle to its exit; resolves to its exit code and everything it printed. */
function runToExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  ensureServerBuilt();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SERVER_BUNDLE], {
      cwd: tmpdir(),
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const post = (baseUrl: string, body: unknown) =>
  fetch(`${baseUrl}/api/event`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('starting with the services down', () => {
  it('listens at once, says what is missing, and counts once PostgreSQL and Redis come back', async () => {
    ensureServerBuilt();
    const database: TestDatabase = await createTestDatabase();
    cleanups.push(() => database.drop());
    const prefix = uniqueQueuePrefix();
    cleanups.push(() => deleteQueueKeys(prefix));
    const postgres = await startTcpProxy();
    cleanups.push(() => postgres.close());
    const redis = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
    cleanups.push(() => redis.close());
    postgres.cut();
    redis.cut();

    const port = await freePort();
    const server = await startServerProcess({
      cwd: tmpdir(),
      healthPort: port,
      startTimeoutMs: 15_000,
      env: {
        PORT: String(port),
        DATABASE_URL: postgres.urlFor(database.url),
        REDIS_URL: `redis://127.0.0.1:${redis.port}`,
        QUEUE_PREFIX: prefix,
        LOG_LEVEL: 'warn',
        BOT_FILTER: 'false',
      },
    });

    const ready = await fetch(`${server.baseUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ checks: { database: 'unreachable', queue: 'unreachable' } });
    // A client that got a 503 resends the same eventId later; the first write may still land meanwhile.
    const resent = pageView({ siteId: 'late_start', path: '/resent', eventId: '0b7e1c52-58a7-4c83-9f0e-6a1d2b3c4d5e' });
    const refused = await post(server.baseUrl, resent);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBeTruthy();
    const stats = await fetch(`${server.baseUrl}/api/stats?siteId=late_start&date=2024-11-14`);
    expect(stats.status).toBe(503);

    postgres.restore();
    redis.restore();
    await waitFor(
      async () => ((await fetch(`${server.baseUrl}/readyz`)).status === 200 ? true : undefined),
      30_000,
      'readiness once both services are back',
    );
    expect((await post(server.baseUrl, resent)).status).toBe(202);
    expect((await post(server.baseUrl, pageView({ siteId: 'late_start', path: '/counted' }))).status).toBe(202);
    const counted = await waitFor(
      async () => {
        const response = await fetch(`${server.baseUrl}/api/stats?siteId=late_start&date=2024-11-14`);
        const body = response.status === 200 ? ((await response.json()) as { totalViews: number }) : undefined;
        return body && body.totalViews >= 2 ? body : undefined;
      },
      30_000,
      'the events to be counted',
    );
    // Exactly the two events: the resent one once, however many of its writes landed.
    await waitFor(
      async () => {
        const health = (await (await fetch(`${server.baseUrl}/api/queues/health`)).json()) as Record<
          string,
          Record<string, number>
        >;
        const counts = health['analytics-events'] ?? {};
        return (counts.waiting ?? 1) + (counts.active ?? 1) + (counts.delayed ?? 1) === 0 ? true : undefined;
      },
      10_000,
      'the queue to drain',
    );
    const settled = await fetch(`${server.baseUrl}/api/stats?siteId=late_start&date=2024-11-14`);
    expect(((await settled.json()) as { totalViews: number }).totalViews).toBe(2);
    expect(counted.totalViews).toBe(2);
    expect(server.output()).toContain('PostgreSQL is unreachable');
    expect(await server.stop()).toBe(0);
  });
});

describe('a start that cannot work', () => {
  it('a taken port: one line naming the port, exit 1', async () => {
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '0.0.0.0', resolve));
    cleanups.push(() => new Promise((resolve) => blocker.close(resolve)));
    const dataDir = `${tmpdir()}/tally-port-${port}`;
    const { code, output } = await runToExit({ PORT: String(port), TALLY_DATA_DIR: dataDir });
    expect(code).toBe(1);
    expect(output).toContain(`Tally cannot listen on port ${port}`);
    expect(output).not.toMatch(/\n\s+at /);
  });

  it('a database that does not exist: one line saying so, exit 1', async () => {
    const url = new URL(ADMIN_DATABASE_URL);
    url.pathname = '/tally_no_such_database';
    const { code, output } = await runToExit({
      PORT: String(await freePort()),
      DATABASE_URL: url.toString(),
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: uniqueQueuePrefix(),
    });
    expect(code).toBe(1);
    expect(output).toMatch(/Tally cannot use its database: .*does not exist/);
    expect(output).not.toMatch(/\n\s+at /);
  });
});
