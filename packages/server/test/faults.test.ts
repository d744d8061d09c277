/**
 * Faults injected for real (issue "Reliability"): a worker SIGKILLed mid-load,
 * PostgreSQL and Redis made unreachable through TCP proxies the tests control,
 * SIGTERM with jobs active, and a poison batch. Through all of them every
 * event that got a 202 is counted exactly once. Each test is bounded in time.
 */
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { Queue } from 'bullmq';
import { sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../src/app.js';
import { connectPostgres, type Database, queryRows } from '../src/db/client.js';
import type { EventsJobData } from '../src/queue/types.js';
import { freePort, startServerProcess, stopAll, waitFor } from './processes.js';
import {
  createTestDatabase,
  deleteQueueKeys,
  jsonOf,
  pageView,
  postJson,
  recordingLogger,
  silentLogger,
  startTcpProxy,
  startTestStack,
  TEST_REDIS_URL,
  type TestDatabase,
  type TestStack,
  uniqueQueuePrefix,
} from './support.js';

const DAY = '2024-11-14';

function makeBatches(siteId: string, total: number, perBatch: number) {
  const batches = [];
  for (let start = 0; start < total; start += perBatch) {
    batches.push(
      Array.from({ length: Math.min(perBatch, total - start) }, (_, k) => ({
        siteId,
        eventType: 'page_view',
        path: `/p/${(start + k) % 97}`,
        timestamp: `${DAY}T${String((start + k) % 24).padStart(2, '0')}:00:00Z`,
        eventId: randomUUID(),
        visitorId: `00000000-0000-4000-8000-${((start + k) % 500).toString(16).padStart(12, '0')}`,
      })),
    );
  }
  return batches;
}

async function countIn(databaseUrl: string, sql: string, values: unknown[] = []): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return Number((await client.query(sql, values)).rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

/** An API process and a way to start worker processes (4 jobs at a time each) on one database and queue. */
async function startSplitRoles(database: TestDatabase, prefix: string, jobLockMs: number) {
  const common = {
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    QUEUE_PREFIX: prefix,
    LOG_LEVEL: 'warn',
    JOB_LOCK_MS: String(jobLockMs),
  };
  const apiPort = await freePort();
  const api = await startServerProcess({
    cwd: tmpdir(),
    env: { ...common, ROLE: 'api', PORT: String(apiPort) },
    healthPort: apiPort,
  });
  const startWorker = async () => {
    const port = await freePort();
    return startServerProcess({
      cwd: tmpdir(),
      env: { ...common, ROLE: 'worker', METRICS_PORT: String(port), WORKER_CONCURRENCY: '4' },
      healthPort: port,
    });
  };
  return { api, startWorker };
}

describe('a worker killed mid-load', () => {
  let database: TestDatabase;
  const prefix = uniqueQueuePrefix();
  afterAll(async () => {
    await stopAll();
    await deleteQueueKeys(prefix);
    await database?.drop();
  });

  it('SIGKILL during 20,000 events, then a new worker: every 202 counted exactly once', async () => {
    database = await createTestDatabase();
    const { api, startWorker } = await startSplitRoles(database, prefix, 2_000);
    const doomed = await startWorker();

    const batches = makeBatches('killed_site', 20_000, 100);
    const acceptedIds = new Set<string>();
    let next = 0;
    let killed = false;
    const post = async () => {
      while (next < batches.length) {
        const events = batches[next++];
        const response = await fetch(`${api.baseUrl}/api/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ events }),
        });
        expect(response.status).toBe(202);
        for (const id of (await jsonOf(response)).eventIds as string[]) acceptedIds.add(id);
        if (!killed && next > batches.length / 3) {
          // Kill it once it is really folding: some events stored, jobs in its hands.
          if ((await countIn(database.url, 'select count(*) as n from raw_events')) > 0) {
            killed = true;
            doomed.child.kill('SIGKILL');
          }
        }
      }
    };
    await Promise.all([post(), post(), post(), post()]);
    expect(killed).toBe(true);
    expect(acceptedIds.size).toBe(20_000);

    await startWorker();
    await waitFor(
      async () => ((await countIn(database.url, 'select count(*) as n from raw_events')) === 20_000 ? true : undefined),
      60_000,
      'every accepted event stored',
    );
    await waitFor(
      async () => {
        const response = await fetch(`${api.baseUrl}/api/queues/health`);
        const counts = (await jsonOf(response))['analytics-events'] as Record<string, number>;
        return (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.delayed ?? 0) === 0 ? true : undefined;
      },
      30_000,
      'the queue to drain',
    );
    const stats = (await jsonOf(await fetch(`${api.baseUrl}/api/stats?siteId=killed_site&date=${DAY}&limit=100`))) as {
      totalViews: number;
      uniqueUsers: number;
      topPaths: { views: number }[];
    };
    expect(stats.totalViews).toBe(20_000);
    expect(stats.uniqueUsers).toBe(500);
    expect(stats.topPaths.reduce((sum, path) => sum + path.views, 0)).toBe(20_000);
  });
});

describe('a worker killed twice mid-drain, with client resends', () => {
  let database: TestDatabase;
  const prefix = uniqueQueuePrefix();
  afterAll(async () => {
    await stopAll();
    await deleteQueueKeys(prefix);
    await database?.drop();
  });

  it('counts every event exactly once and moves no job to failed', async () => {
    database = await createTestDatabase();
    const { api, startWorker } = await startSplitRoles(database, prefix, 1_000);
    const stored = () => countIn(database.url, 'select count(*) as n from raw_events');
    const send = async (events: unknown[]) => {
      const response = await fetch(`${api.baseUrl}/api/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ events }),
      });
      expect(response.status).toBe(202);
    };

    const queueHealth = async () =>
      (await jsonOf(await fetch(`${api.baseUrl}/api/queues/health`)))['analytics-events'] as Record<string, number>;

    // A backlog first; then a lock on raw_events holds every fold, so each worker is killed
    // while it holds jobs, and the second one holds the first one's (recovered) jobs.
    const batches = makeBatches('twice_killed', 12_000, 100);
    for (const events of batches) await send(events);
    const blocker = new pg.Client({ connectionString: database.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE raw_events IN ACCESS EXCLUSIVE MODE');
    try {
      for (let kill = 1; kill <= 2; kill++) {
        const worker = await startWorker();
        await waitFor(
          async () => ((await queueHealth()).active === 4 ? true : undefined),
          20_000,
          `worker ${kill} busy`,
        );
        worker.child.kill('SIGKILL');
        // Its locks lapse (JOB_LOCK_MS = 1 s); the next worker's first stalled check puts its jobs back first.
        await new Promise((resolve) => setTimeout(resolve, 2_500));
        // Clients that lost their answers resend a slice of what they sent, with the same ids.
        for (const events of batches.slice((kill - 1) * 20, kill * 20)) await send(events);
      }
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    expect(await stored()).toBe(0);

    await startWorker();
    await waitFor(
      async () => {
        const health = (await jsonOf(await fetch(`${api.baseUrl}/api/queues/health`)))['analytics-events'] as Record<
          string,
          number
        >;
        const busy = (health.waiting ?? 1) + (health.active ?? 1) + (health.delayed ?? 1);
        return busy === 0 && (await stored()) === 12_000 ? health : undefined;
      },
      90_000,
      'the backlog to drain into PostgreSQL',
    ).then((health) => expect(health.failed).toBe(0));
    const stats = (await jsonOf(await fetch(`${api.baseUrl}/api/stats?siteId=twice_killed&date=${DAY}`))) as {
      totalViews: number;
      uniqueUsers: number;
    };
    expect(stats).toMatchObject({ totalViews: 12_000, uniqueUsers: 500 });
  });
});

describe('services going away', () => {
  let stack: TestStack | undefined;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>> | undefined;
  afterEach(async () => {
    // The proxy first: a pool connection still held through it then fails at once, instead of
    // holding the worker's pool.end() until its query times out.
    await proxy?.close();
    await stack?.close();
    stack = undefined;
    proxy = undefined;
  });

  it('PostgreSQL unreachable for 10 s under load: ingestion keeps answering 202, counts exact after', async () => {
    proxy = await startTcpProxy();
    stack = await startTestStack({ worker: false });
    const current = stack;
    const { logger, lines } = recordingLogger();
    const returned = () =>
      lines.filter((line) => line.msg === 'database unavailable; job returned to the queue').length;
    current.startWorker({ databaseUrl: proxy.urlFor(current.testDatabase.url), concurrency: 4, logger });
    const batches = makeBatches('pg_outage', 6_000, 20);
    let sent = 0;
    const started = Date.now();
    const statuses = new Set<number>();
    const workerProxy = proxy;
    const loader = (async () => {
      for (const events of batches) {
        const elapsed = Date.now() - started;
        if (elapsed > 1_000 && elapsed < 11_000) workerProxy.cut();
        else workerProxy.restore();
        statuses.add((await postJson(current.app, '/api/events', { events })).status);
        sent += events.length;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    // Once the worker has met the outage its database is gone: whatever it tries next stores nothing.
    await vi.waitFor(() => expect(returned()).toBeGreaterThan(0), { timeout: 15_000, interval: 20 });
    const storedMidOutage = await countIn(current.testDatabase.url, 'select count(*) as n from raw_events');
    const triesSoFar = returned();
    await vi.waitFor(() => expect(returned()).toBeGreaterThan(triesSoFar + 2), { timeout: 15_000, interval: 20 });
    expect(await countIn(current.testDatabase.url, 'select count(*) as n from raw_events')).toBe(storedMidOutage);
    // Readiness through the database it cannot reach says so.
    const unreachable = connectPostgres(proxy.urlFor(current.testDatabase.url), 1);
    const probe = createApp({
      statsDb: unreachable.db,
      pingDatabase: unreachable.ping,
      queue: current.queue,
      config: current.config,
      logger: silentLogger,
    });
    const ready = await probe.request('/readyz');
    expect(ready.status).toBe(503);
    expect(await jsonOf(ready)).toMatchObject({
      status: 'not ready',
      checks: { database: 'unreachable', queue: 'ok' },
    });
    const stats = await probe.request(`/api/stats?siteId=pg_outage&date=${DAY}`);
    expect(stats.status).toBe(503);
    expect(stats.headers.get('retry-after')).toBe('5');
    await unreachable.close();
    await loader;
    proxy.restore();
    expect([...statuses]).toEqual([202]);
    expect(sent).toBe(6_000);
    await current.drain(60_000);
    const [row] = await current.query<{ total_views: number }>(
      "select total_views::int from site_daily_aggregates where site_id = 'pg_outage'",
    );
    expect(row?.total_views).toBe(6_000);
    expect((await current.queue.counts()).failed).toBe(0);
  });

  it('a connection lost at BEGIN gives its pooled client back: a pool of one serves the next transaction', async () => {
    const database = await createTestDatabase();
    const silent = await startTcpProxy();
    proxy = silent;
    const handle = connectPostgres(silent.urlFor(database.url), 1, { statementTimeoutMs: 300 });
    try {
      await handle.ping(); // the pool's one client, connected and idle
      silent.silence();
      const lost = handle.db.transaction(async (tx) => tx.execute(sql`select 1`));
      await expect(lost).rejects.toThrow(/Failed query: begin/);
      silent.restore();
      // drizzle 0.45 kept that client checked out for good; the pool's one slot was gone.
      const [row] = await handle.db.transaction(async (tx) => queryRows(tx as unknown as Database, sql`select 2 as n`));
      expect(row).toEqual({ n: 2 });
    } finally {
      await handle.close();
      await database.drop();
    }
  });

  it('Redis unreachable: ingestion answers 503 with Retry-After quickly, /readyz says why, and it recovers', async () => {
    const redisProxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
    proxy = redisProxy;
    stack = await startTestStack({ env: { REDIS_URL: `redis://127.0.0.1:${redisProxy.port}` } });
    const current = stack;
    expect((await postJson(current.app, '/api/event', pageView({ siteId: 'redis_outage' }))).status).toBe(202);
    // Folded before the cut: a job active while Redis is gone only comes back as stalled (30 s), which this test is not about.
    await current.drain(30_000);

    redisProxy.cut();
    const started = Date.now();
    const refused = await postJson(current.app, '/api/event', pageView({ siteId: 'redis_outage', path: '/lost' }));
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(await jsonOf(refused)).toEqual({
      statusCode: 503,
      message: 'The event queue is unavailable; retry later',
      error: 'Service Unavailable',
      eventId: expect.stringMatching(/^[0-9a-f-]{36}$/), // to resend with (docs/api.md)
    });
    const ready = await current.app.request('/readyz');
    expect(ready.status).toBe(503);
    expect(await jsonOf(ready)).toMatchObject({ checks: { database: 'ok', queue: 'unreachable' } });

    redisProxy.restore();
    const accepted = await waitFor(
      async () => {
        const response = await postJson(current.app, '/api/event', pageView({ siteId: 'redis_outage', path: '/back' }));
        return response.status === 202 ? response : undefined;
      },
      20_000,
      'ingestion to recover',
    );
    expect(accepted.status).toBe(202);
    expect((await current.app.request('/readyz')).status).toBe(200);
    await current.drain(30_000);
    const paths = await current.query<{ path: string }>(
      "select path from raw_events where site_id = 'redis_outage' order by path",
    );
    // The refused event was never acknowledged, so its absence is correct; the others are there once.
    expect(paths.map((row) => row.path)).toEqual(['/', '/back']);
  });
});

describe('SIGTERM with jobs active', () => {
  let database: TestDatabase;
  const prefix = uniqueQueuePrefix();
  afterAll(async () => {
    await stopAll();
    await deleteQueueKeys(prefix);
    await database?.drop();
  });

  it('finishes its active jobs and exits 0; nothing lost, nothing twice', async () => {
    database = await createTestDatabase();
    const port = await freePort();
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'warn',
      ROLE: 'all',
      PORT: String(port),
    };
    const server = await startServerProcess({ cwd: tmpdir(), env, healthPort: port });
    const queue = new Queue('analytics-events', { connection: new Redis(TEST_REDIS_URL), prefix });
    const accepted = new Set<string>();
    const batches = makeBatches('sigterm_site', 20_000, 100);
    let next = 0;
    let signalled = false;
    // Post until the server stops answering; SIGTERM the moment a job is seen in progress.
    const lane = async () => {
      while (next < batches.length) {
        const events = batches[next++];
        try {
          const response = await fetch(`${server.baseUrl}/api/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ events }),
          });
          if (response.status !== 202) return;
          for (const id of (await jsonOf(response)).eventIds as string[]) accepted.add(id);
        } catch {
          return; // the server closed its port: it is shutting down
        }
      }
    };
    const watcher = async () => {
      const deadline = Date.now() + 30_000;
      while (!signalled && Date.now() < deadline) {
        if (accepted.size > 0 && (await queue.getActiveCount()) > 0) {
          signalled = true;
          server.child.kill('SIGTERM');
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    };
    try {
      await Promise.all([lane(), lane(), lane(), lane(), watcher()]);
      expect(signalled).toBe(true);
      expect(await server.stop(30_000)).toBe(0);
      // What it had in progress it finished; what it left waiting, the next process takes.
      expect(await queue.getActiveCount()).toBe(0);
      const restarted = await startServerProcess({ cwd: tmpdir(), env, healthPort: port });
      await waitFor(
        async () =>
          (await countIn(database.url, 'select count(*) as n from raw_events')) === accepted.size ? true : undefined,
        60_000,
        'every accepted event stored',
      );
      await restarted.stop();
    } finally {
      await queue.close();
      await queue.disconnect();
    }
    expect(accepted.size).toBeGreaterThan(0);
    expect(
      await countIn(database.url, "select total_views as n from site_daily_aggregates where site_id = 'sigterm_site'"),
    ).toBe(accepted.size);
  });
});

describe('a malformed job', () => {
  let stack: TestStack;
  afterAll(async () => {
    await stack?.close();
  });

  it('ends in the failed set after its attempts, is visible, and holds up nothing', async () => {
    stack = await startTestStack();
    // A job no worker can read (it bypassed the API): a bad job, unlike a bad event (poison.test.ts, parked).
    const poison = await stack.queue.queue.add('batch', {
      events: 'not-a-batch-of-events',
    } as unknown as EventsJobData);
    const good = await postJson(stack.app, '/api/events', { events: [pageView({ siteId: 'healthy' })] });
    expect(good.status).toBe(202);
    const current = stack;
    await waitFor(
      async () => {
        const rows = await current.query("select 1 from site_daily_aggregates where site_id = 'healthy'");
        return rows.length === 1 ? true : undefined;
      },
      5_000,
      'the healthy batch to be counted while the poison one waits for its retry',
    );

    // 4 attempts: the first try and retries after 2 s, 4 s and 8 s.
    await waitFor(
      async () => ((await current.queue.counts()).failed === 1 ? true : undefined),
      25_000,
      'the poison job to fail for good',
    );
    const job = await stack.queue.queue.getJob(poison.id as string);
    expect(job?.attemptsMade).toBe(4);
    expect(await jsonOf(await stack.app.request('/api/queues/health'))).toMatchObject({
      'analytics-events': { failed: 1, waiting: 0, active: 0, delayed: 0 },
    });
    const board = await stack.app.request('/api/queues/admin/api/queues?activeQueue=analytics-events&status=failed');
    expect(board.status).toBe(200);
    expect(await board.text()).toContain('not-a-batch-of-events');
    expect(await stack.query('select 1 from parked_events')).toEqual([]);
  });
});
