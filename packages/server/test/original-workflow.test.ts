/**
 * The original design's "Complete Testing Workflow" (Tests 1–4), as HTTP
 * scenarios with the counts that follow from SPEC §2–§3: Test 3 sees 4 events
 * from 3 visitors (the original's "3 and 1" does not follow from its steps).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonOf, postJson, startTestStack, type TestStack } from './support.js';

const VISITOR = '550e8400-e29b-41d4-a716-446655440001';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('original design workflow', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const stats = async () => {
    await stack.drain();
    const response = await stack.app.request('/api/stats?siteId=test_site&date=2024-11-14');
    return { status: response.status, body: await jsonOf(response) };
  };

  it('Test 1: ingests an event, answers 202 with ids and sets the visitor cookie', async () => {
    const response = await postJson(stack.app, '/api/event', {
      siteId: 'test_site',
      eventType: 'page_view',
      path: '/home',
      timestamp: '2024-11-14T10:00:00Z',
    });
    expect(response.status).toBe(202);
    const body = await jsonOf(response);
    expect(body).toEqual({
      success: true,
      eventId: expect.stringMatching(UUID),
      visitorId: expect.stringMatching(UUID),
    });
    expect(response.headers.get('set-cookie')).toBe(
      `visitor_id=${body.visitorId}; Max-Age=31536000; Path=/; HttpOnly; SameSite=Lax`,
    );
  });

  it('Test 2: the same visitor cookie keeps its visitor; no cookie makes a new one', async () => {
    const first = await postJson(
      stack.app,
      '/api/event',
      { siteId: 'test_site', eventType: 'page_view', path: '/products', timestamp: '2024-11-14T10:05:00Z' },
      { Cookie: `visitor_id=${VISITOR}` },
    );
    const second = await postJson(
      stack.app,
      '/api/event',
      { siteId: 'test_site', eventType: 'page_view', path: '/about', timestamp: '2024-11-14T10:10:00Z' },
      { Cookie: `visitor_id=${VISITOR}` },
    );
    for (const response of [first, second]) {
      expect(response.status).toBe(202);
      expect((await jsonOf(response)).visitorId).toBe(VISITOR);
      expect(response.headers.get('set-cookie')).toBeNull();
    }
    const third = await postJson(stack.app, '/api/event', {
      siteId: 'test_site',
      eventType: 'page_view',
      path: '/contact',
      timestamp: '2024-11-14T10:15:00Z',
    });
    expect(third.status).toBe(202);
    expect((await jsonOf(third)).visitorId).not.toBe(VISITOR);
  });

  it('Test 3: stats show 4 events from 3 visitors, top paths by views then path', async () => {
    const { status, body } = await stats();
    expect(status).toBe(200);
    expect(body).toEqual({
      siteId: 'test_site',
      date: '2024-11-14',
      totalViews: 4,
      uniqueUsers: 3,
      topPaths: [
        { path: '/about', views: 1 },
        { path: '/contact', views: 1 },
        { path: '/home', views: 1 },
        { path: '/products', views: 1 },
      ],
    });
  });

  it('Test 4: the same eventId sent 3 times counts once', async () => {
    const eventId = '550e8400-e29b-41d4-a716-446655440099';
    for (let i = 0; i < 3; i++) {
      const response = await postJson(stack.app, '/api/event', {
        siteId: 'test_site',
        eventType: 'page_view',
        path: '/duplicate-test',
        timestamp: '2024-11-14T11:00:00Z',
        eventId,
      });
      expect(response.status).toBe(202);
      expect((await jsonOf(response)).eventId).toBe(eventId);
    }
    const { body } = await stats();
    // Each of the three requests came without a cookie, but only the first copy was stored:
    // one more event and one more visitor.
    expect(body.totalViews).toBe(5);
    expect(body.uniqueUsers).toBe(4);
    expect(body.topPaths).toContainEqual({ path: '/duplicate-test', views: 1 });
    const [row] = await stack.query<{ n: number }>('select count(*)::int as n from raw_events where event_id = $1', [
      eventId,
    ]);
    expect(row?.n).toBe(1);
  });

  it('the psql checks of the original design see the same numbers', async () => {
    expect(await stack.query('select count(*)::int as n from raw_events')).toEqual([{ n: 5 }]);
    expect(await stack.query('select total_views::int, unique_users::int from site_daily_aggregates')).toEqual([
      { total_views: 5, unique_users: 4 },
    ]);
    expect(await stack.query('select count(*)::int as n from site_daily_unique_users')).toEqual([{ n: 4 }]);
  });

  it('answers 404 in the error shape for a day with no stats', async () => {
    const response = await stack.app.request('/api/stats?siteId=test_site&date=2024-11-15');
    expect(response.status).toBe(404);
    expect(await jsonOf(response)).toEqual({
      statusCode: 404,
      message: 'No stats found for site test_site on 2024-11-15',
      error: 'Not Found',
    });
  });

  it('reports queue health in the original shape', async () => {
    const response = await stack.app.request('/api/queues/health');
    expect(response.status).toBe(200);
    const counts = (await jsonOf(response))['analytics-events'] as Record<string, number>;
    // Completed jobs are removed, but counted: the jobs of the workflow above are there.
    expect(counts).toEqual({
      waiting: 0,
      active: 0,
      completed: counts.completed,
      failed: 0,
      delayed: 0,
      total: counts.completed,
    });
    expect(counts.completed).toBeGreaterThan(0);
  });
});
