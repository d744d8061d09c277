/**
 * Hardening of the read side (issue "Hardening"): a range answer is one
 * snapshot even while folds commit, and a silent PostgreSQL or Redis answers
 * 503 quickly instead of holding the request.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { connectPostgres } from '../src/db/client.js';
import { jsonOf, pageView, postJson, silentLogger, startTcpProxy, startTestStack, type TestStack } from './support.js';

describe('a range answer under concurrent folds', () => {
  let stack: TestStack;
  afterAll(async () => {
    await stack?.close();
  });

  it('never contradicts itself: totalViews is the sum of its days and of its top paths', async () => {
    stack = await startTestStack({ env: { STATS_CACHE_MS: '0', WORKER_CONCURRENCY: '4' } });
    const current = stack;
    let folding = true;
    const writer = (async () => {
      for (let batch = 0; folding && batch < 400; batch++) {
        const events = Array.from({ length: 25 }, (_, i) =>
          pageView({
            siteId: 'snap',
            path: `/p${(batch + i) % 20}`,
            timestamp: `2024-11-${String(14 + (i % 3)).padStart(2, '0')}T10:00:00Z`,
            eventId: randomUUID(),
          }),
        );
        expect((await postJson(current.app, '/api/events', { events })).status).toBe(202);
      }
    })();
    let checked = 0;
    try {
      while (checked < 300) {
        const response = await current.app.request('/api/stats?siteId=snap&from=2024-11-14&to=2024-11-16&limit=100');
        if (response.status === 404) continue;
        const body = (await jsonOf(response)) as {
          totalViews: number;
          topPaths: { views: number }[];
          daily: { totalViews: number }[];
        };
        const pathViews = body.topPaths.reduce((sum, path) => sum + path.views, 0);
        const dayViews = body.daily.reduce((sum, day) => sum + day.totalViews, 0);
        expect({ pathViews, dayViews }).toEqual({ pathViews: body.totalViews, dayViews: body.totalViews });
        checked += 1;
      }
    } finally {
      folding = false;
      await writer;
    }
    expect(checked).toBe(300);
  });
});

describe('a silent service', () => {
  let stack: TestStack | undefined;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>> | undefined;
  afterEach(async () => {
    await stack?.close();
    await proxy?.close();
    stack = undefined;
    proxy = undefined;
  });

  it('PostgreSQL that stops answering without closing: stats answer 503 with Retry-After within the timeout', async () => {
    proxy = await startTcpProxy();
    stack = await startTestStack({ worker: false });
    const silent = connectPostgres(proxy.urlFor(stack.testDatabase.url), 2, { statementTimeoutMs: 1_000 });
    try {
      const app = createApp({
        statsDb: silent.db,
        pingDatabase: silent.ping,
        queue: stack.queue,
        config: stack.config,
        logger: silentLogger,
      });
      // A connection is open and works, then the network goes quiet.
      expect((await app.request('/api/stats?siteId=s&date=2024-11-14')).status).toBe(404);
      proxy.silence();
      for (const query of ['date=2024-11-14', 'from=2024-11-01&to=2024-11-14']) {
        const started = Date.now();
        const response = await app.request(`/api/stats?siteId=s&${query}`);
        expect(Date.now() - started).toBeLessThan(8_000);
        expect(response.status).toBe(503);
        expect(response.headers.get('retry-after')).toBe('5');
        expect((await jsonOf(response)).error).toBe('Service Unavailable');
      }
    } finally {
      await silent.close().catch(() => {});
    }
  });

  it('/api/queues/health answers 503, not 500, when Redis is down or silent', async () => {
    proxy = await startTcpProxy({ host: '127.0.0.1', port: 6379 });
    stack = await startTestStack({ worker: false, env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}` } });
    expect((await stack.app.request('/api/queues/health')).status).toBe(200);
    proxy.silence();
    const silent = await stack.app.request('/api/queues/health');
    expect(silent.status).toBe(503);
    expect(silent.headers.get('retry-after')).toBe('5');
    proxy.restore();
    proxy.cut();
    const down = await stack.app.request('/api/queues/health');
    expect(down.status).toBe(503);
    expect(await jsonOf(down)).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
  });
});
