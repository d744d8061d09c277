/**
 * The exactly-once effect through the whole path (SPEC §3): duplicate posts in
 * flight and after processing, workers racing on one site and day, a job
 * redelivered after its transaction committed, and a database outage.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createBatchProcessor } from '../src/worker/processor.js';
import {
  jsonOf,
  pageView,
  postJson,
  recordingLogger,
  silentLogger,
  startTcpProxy,
  startTestStack,
  type TestStack,
} from './support.js';

async function aggregates(stack: TestStack, siteId: string) {
  return stack.query<{ total_views: number; unique_users: number }>(
    'select total_views::int, unique_users::int from site_daily_aggregates where site_id = $1',
    [siteId],
  );
}

describe('duplicates', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('the same eventId posted 3 times at once, and again after processing, counts once everywhere', async () => {
    const event = pageView({ siteId: 'dup_site', eventId: '0f0f0f0f-0000-4000-8000-000000000001', path: '/once' });
    const responses = await Promise.all([1, 2, 3].map(() => postJson(stack.app, '/api/event', event)));
    expect(responses.map((r) => r.status)).toEqual([202, 202, 202]);
    await stack.drain();
    await postJson(stack.app, '/api/event', event);
    await postJson(stack.app, '/api/events', { events: [event, event] });
    await stack.drain();

    expect(await aggregates(stack, 'dup_site')).toEqual([{ total_views: 1, unique_users: 1 }]);
    expect(await stack.query("select views::int from site_daily_path_counts where site_id = 'dup_site'")).toEqual([
      { views: 1 },
    ]);
    expect(await stack.query("select events::int from site_daily_event_counts where site_id = 'dup_site'")).toEqual([
      { events: 1 },
    ]);
    expect(
      await stack.query("select count(*)::int as n from site_daily_unique_users where site_id = 'dup_site'"),
    ).toEqual([{ n: 1 }]);
    expect(await stack.query("select count(*)::int as n from raw_events where site_id = 'dup_site'")).toEqual([
      { n: 1 },
    ]);
  });
});

describe('racing workers', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('4 workers on 20,000 events for one site and day end with exact counts and no deadlock', async () => {
    const paths = 400;
    const visitors = 1_500;
    const event = (i: number) =>
      pageView({
        siteId: 'race_site',
        eventId: `11111111-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
        visitorId: `00000000-0000-4000-8000-${((i * 7) % visitors).toString(16).padStart(12, '0')}`,
        path: `/p/${(i * 13) % paths}`,
        timestamp: `2024-11-14T${String(i % 24).padStart(2, '0')}:00:00Z`,
      });
    // 20,000 events in batches of 80, each batch but the first also resending an event of the
    // batch before it, as a client retry would: 20,249 posted, 20,000 distinct.
    const batches = [];
    for (let start = 0; start < 20_000; start += 80) {
      const events = Array.from({ length: 80 }, (_, k) => event(start + k));
      if (start > 0) events.push(event(start - 1));
      batches.push(events);
    }
    for (const events of batches) {
      expect((await postJson(stack.app, '/api/events', { events })).status).toBe(202);
    }
    const { logger, lines } = recordingLogger();
    for (let w = 0; w < 4; w++) stack.startWorker({ concurrency: 4, logger });
    await stack.drain(120_000);

    expect(await aggregates(stack, 'race_site')).toEqual([{ total_views: 20_000, unique_users: visitors }]);
    // Every aggregate agrees with a recount of the raw events.
    const mismatches = await stack.query(`
      select coalesce(p.path, r.path) as path, p.views, r.views as recount
      from site_daily_path_counts p
      full join (select path, count(*) as views from raw_events group by path) r using (path)
      where p.views is distinct from r.views`);
    expect(mismatches).toEqual([]);
    expect(await stack.query('select count(*)::int as n from site_daily_path_counts')).toEqual([{ n: paths }]);
    expect((await stack.queue.counts()).failed).toBe(0);
    // No fold lost a lock race (deadlock or serialization failure), not even one retried in place.
    expect(lines).toEqual([]);
  });
});

describe('redelivery and outages', () => {
  let stack: TestStack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('a job that fails after its transaction committed is retried and still counts once', async () => {
    let calls = 0;
    let real: ReturnType<typeof createBatchProcessor> | undefined;
    stack = await startTestStack({
      worker: false,
      processor: async (events) => {
        real ??= createBatchProcessor({ db: (stack as TestStack).database.db, logger: silentLogger });
        const result = await real(events);
        calls += 1;
        // The fold committed, then the worker "crashed" before acknowledging the job.
        if (calls === 1) throw new Error('lost the ack');
        return result;
      },
    });
    const response = await postJson(stack.app, '/api/events', {
      events: [pageView({ siteId: 'redeliver' }), pageView({ siteId: 'redeliver', path: '/b' })],
    });
    expect(response.status).toBe(202);
    stack.startWorker();
    await stack.drain(20_000);
    expect(calls).toBe(2);
    expect(await aggregates(stack, 'redeliver')).toEqual([{ total_views: 2, unique_users: 1 }]);
  });

  it('a database outage returns jobs to the queue without spending attempts, and they count once after it', async () => {
    const proxy = await startTcpProxy();
    try {
      stack = await startTestStack({ worker: false });
      proxy.cut();
      const { logger, lines } = recordingLogger();
      stack.startWorker({ databaseUrl: proxy.urlFor(stack.testDatabase.url), logger });
      const response = await postJson(stack.app, '/api/event', pageView({ siteId: 'outage' }));
      expect(response.status).toBe(202);
      const { eventId } = await jsonOf(response);

      // Tried and put back more often than its 4 attempts would allow a failing job, yet never failed.
      const returned = () => lines.filter((line) => line.msg === 'database unavailable; job returned to the queue');
      await vi.waitFor(() => expect(returned().length).toBeGreaterThanOrEqual(5), { timeout: 20_000, interval: 50 });
      const [job] = await stack.queue.queue.getJobs(['waiting', 'active', 'delayed', 'prioritized']);
      expect(job?.attemptsMade).toBe(0);
      expect((await stack.queue.counts()).failed).toBe(0);
      expect(await aggregates(stack, 'outage')).toEqual([]);

      proxy.restore();
      await stack.drain(30_000);
      expect(await aggregates(stack, 'outage')).toEqual([{ total_views: 1, unique_users: 1 }]);
      expect(await stack.query('select count(*)::int as n from raw_events where event_id = $1', [eventId])).toEqual([
        { n: 1 },
      ]);
    } finally {
      await proxy.close();
    }
  });
});
