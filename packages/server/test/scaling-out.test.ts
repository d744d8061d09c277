/**
 * Scaling out (SPEC §4): one API process and two worker processes — the built
 * server with ROLE=api and ROLE=worker — share one PostgreSQL database and one
 * Redis queue prefix. A few thousand events, resends included, come out as
 * exact counts, and both workers did part of the folding.
 */
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, type ServerProcess, startServerProcess, stopAll, waitFor } from './processes.js';
import {
  createTestDatabase,
  deleteQueueKeys,
  TEST_REDIS_URL,
  type TestDatabase,
  uniqueQueuePrefix,
} from './support.js';

const SITE = 'scaled_site';
const DAY = '2024-11-14';
const EVENTS = 3_000;
const BATCH = 25;
const PATHS = ['/', '/pricing', '/docs', '/blog', '/about', '/signup', '/login'];

describe('one API and two workers on one database and queue', () => {
  let database: TestDatabase;
  let prefix: string;
  let api: ServerProcess;
  let workers: ServerProcess[];

  beforeAll(async () => {
    database = await createTestDatabase();
    prefix = uniqueQueuePrefix();
    const common = { DATABASE_URL: database.url, REDIS_URL: TEST_REDIS_URL, QUEUE_PREFIX: prefix, LOG_LEVEL: 'warn' };
    workers = await Promise.all(
      [1, 2].map(async () => {
        const metricsPort = await freePort();
        return startServerProcess({
          cwd: tmpdir(),
          env: { ...common, ROLE: 'worker', METRICS_PORT: String(metricsPort), WORKER_CONCURRENCY: '4' },
          healthPort: metricsPort,
        });
      }),
    );
    const port = await freePort();
    // The API reads stats through STATS_DATABASE_URL, as it would from a read replica.
    const replicaUrl = new URL(database.url);
    replicaUrl.hostname = 'localhost';
    api = await startServerProcess({
      cwd: tmpdir(),
      env: { ...common, ROLE: 'api', PORT: String(port), STATS_DATABASE_URL: replicaUrl.toString() },
      healthPort: port,
    });
  }, 90_000);

  afterAll(async () => {
    await stopAll();
    if (prefix) await deleteQueueKeys(prefix);
    await database?.drop();
  });

  it('counts every event exactly once', async () => {
    const visitors = Array.from({ length: 40 }, () => randomUUID());
    const events = Array.from({ length: EVENTS }, (_, i) => ({
      siteId: SITE,
      eventType: i % 5 === 0 ? 'click' : 'page_view',
      path: PATHS[i % PATHS.length] as string,
      timestamp: `${DAY}T${String(i % 24).padStart(2, '0')}:00:00Z`,
      eventId: randomUUID(),
      visitorId: visitors[i % visitors.length],
    }));
    const batches: (typeof events)[] = [];
    for (let i = 0; i < events.length; i += BATCH) batches.push(events.slice(i, i + BATCH));
    // Resends of 20 batches (what a tracker retrying after a lost answer does) must not count again.
    batches.push(...batches.slice(0, 20));

    let next = 0;
    const post = async () => {
      while (next < batches.length) {
        const batch = batches[next++];
        const response = await fetch(`${api.baseUrl}/api/events`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ events: batch }),
        });
        expect(response.status).toBe(202);
      }
    };
    await Promise.all(Array.from({ length: 6 }, post));

    const viewsByPath = new Map<string, number>();
    for (const event of events) viewsByPath.set(event.path, (viewsByPath.get(event.path) ?? 0) + 1);
    const topPaths = [...viewsByPath]
      .map(([path, views]) => ({ path, views }))
      .sort((a, b) => b.views - a.views || a.path.localeCompare(b.path));

    const stats = await waitFor(
      async () => {
        const response = await fetch(`${api.baseUrl}/api/stats?siteId=${SITE}&date=${DAY}`);
        if (response.status !== 200) return undefined;
        const body = (await response.json()) as { totalViews: number };
        return body.totalViews >= EVENTS ? body : undefined;
      },
      60_000,
      `${EVENTS} events to be counted`,
    );
    // A job's events are counted a moment before the worker marks the job done.
    const health = await waitFor(
      async () => {
        const body = (await (await fetch(`${api.baseUrl}/api/queues/health`)).json()) as Record<
          string,
          { active: number }
        >;
        return body['analytics-events']?.active === 0 ? body : undefined;
      },
      10_000,
      'the queue to settle',
    );
    expect(health).toMatchObject({ 'analytics-events': { waiting: 0, active: 0, delayed: 0, failed: 0 } });
    expect(stats).toEqual({ siteId: SITE, date: DAY, totalViews: EVENTS, uniqueUsers: visitors.length, topPaths });

    const clicks = await (await fetch(`${api.baseUrl}/api/stats?siteId=${SITE}&date=${DAY}&eventType=click`)).json();
    expect(clicks).toMatchObject({ totalViews: EVENTS / 5 });

    // Each worker took part, and between them they counted each event once.
    const folded = await Promise.all(
      workers.map(async (worker) => {
        const text = await (await fetch(`${worker.baseUrl}/metrics`)).text();
        const jobs = Number(/^tally_jobs_total\{outcome="processed"\} (\d+)$/m.exec(text)?.[1] ?? 0);
        const counted = Number(/^tally_events_folded_total\{result="counted"\} (\d+)$/m.exec(text)?.[1] ?? 0);
        return { jobs, counted };
      }),
    );
    for (const worker of folded) expect(worker.jobs).toBeGreaterThan(0);
    expect(folded.reduce((total, worker) => total + worker.counted, 0)).toBe(EVENTS);

    // SIGTERM: each process finishes what it has and exits 0.
    expect(await Promise.all([api, ...workers].map((server) => server.stop()))).toEqual([0, 0, 0]);
  });
});
