import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonOf, pageView, postJson, startTestStack, type TestStack } from '../../test/support.js';

const visitor = (n: number) => `aaaaaaaa-0000-4000-8000-${String(n).padStart(12, '0')}`;

describe('GET /api/stats', () => {
  let stack: TestStack;
  const get = async (query: string) => {
    const response = await stack.app.request(`/api/stats?${query}`);
    return { status: response.status, body: await jsonOf(response), headers: response.headers };
  };

  beforeAll(async () => {
    stack = await startTestStack({ env: { STATS_CORS_ORIGINS: 'https://dash.example' } });
    const events = [];
    // Day 1: 12 paths; /p0 gets 3 views, /p1 and /p2 two each, the rest one each: ties sort by path.
    for (let i = 0; i < 12; i++) events.push(pageView({ siteId: 's', path: `/p${i}`, visitorId: visitor(i % 3) }));
    events.push(pageView({ siteId: 's', path: '/p0', visitorId: visitor(1) }));
    events.push(pageView({ siteId: 's', path: '/p0', visitorId: visitor(1) }));
    events.push(pageView({ siteId: 's', path: '/p1', visitorId: visitor(2) }));
    events.push(pageView({ siteId: 's', path: '/p2', visitorId: visitor(2) }));
    events.push(pageView({ siteId: 's', path: '/p2', eventType: 'signup', visitorId: visitor(9) }));
    // Day 2: visitors 1 (returning) and 5 (new).
    events.push(pageView({ siteId: 's', path: '/p9', timestamp: '2024-11-15T08:00:00Z', visitorId: visitor(1) }));
    events.push(
      pageView({
        siteId: 's',
        path: '/p9',
        timestamp: '2024-11-15T09:00:00Z',
        visitorId: visitor(5),
        eventType: 'signup',
      }),
    );
    // Another site on the same day must not leak in.
    events.push(pageView({ siteId: 'other', path: '/p0', visitorId: visitor(7) }));
    expect((await postJson(stack.app, '/api/events', { events })).status).toBe(202);
    await stack.drain();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('gives the day: every event, distinct visitors, top 10 paths by views then path', async () => {
    const { status, body } = await get('siteId=s&date=2024-11-14');
    expect(status).toBe(200);
    expect(body).toEqual({
      siteId: 's',
      date: '2024-11-14',
      totalViews: 17,
      uniqueUsers: 4,
      topPaths: [
        { path: '/p0', views: 3 },
        { path: '/p2', views: 3 },
        { path: '/p1', views: 2 },
        { path: '/p10', views: 1 },
        { path: '/p11', views: 1 },
        { path: '/p3', views: 1 },
        { path: '/p4', views: 1 },
        { path: '/p5', views: 1 },
        { path: '/p6', views: 1 },
        { path: '/p7', views: 1 },
      ],
    });
  });

  it('takes a limit', async () => {
    const { body } = await get('siteId=s&date=2024-11-14&limit=2');
    expect(body.topPaths).toEqual([
      { path: '/p0', views: 3 },
      { path: '/p2', views: 3 },
    ]);
  });

  it('counts only one event type when asked', async () => {
    const { body } = await get('siteId=s&date=2024-11-14&eventType=signup');
    expect(body).toEqual({
      siteId: 's',
      date: '2024-11-14',
      eventType: 'signup',
      totalViews: 1,
      uniqueUsers: 1,
      topPaths: [{ path: '/p2', views: 1 }],
    });
  });

  it('sums a range, with visitors distinct over the whole range and a daily breakdown', async () => {
    const { body } = await get('siteId=s&from=2024-11-13&to=2024-11-16&limit=3');
    expect(body).toEqual({
      siteId: 's',
      from: '2024-11-13',
      to: '2024-11-16',
      totalViews: 19,
      uniqueUsers: 5,
      topPaths: [
        { path: '/p0', views: 3 },
        { path: '/p2', views: 3 },
        { path: '/p9', views: 3 },
      ],
      daily: [
        { date: '2024-11-14', totalViews: 17, uniqueUsers: 4 },
        { date: '2024-11-15', totalViews: 2, uniqueUsers: 2 },
      ],
    });
  });

  it('ranges by event type', async () => {
    const { body } = await get('siteId=s&from=2024-11-14&to=2024-11-15&eventType=signup');
    expect(body).toMatchObject({
      totalViews: 2,
      uniqueUsers: 2,
      daily: [
        { date: '2024-11-14', totalViews: 1, uniqueUsers: 1 },
        { date: '2024-11-15', totalViews: 1, uniqueUsers: 1 },
      ],
    });
  });

  it('404 when nothing matches', async () => {
    expect(await get('siteId=s&date=2024-11-20')).toMatchObject({
      status: 404,
      body: { statusCode: 404, message: 'No stats found for site s on 2024-11-20', error: 'Not Found' },
    });
    expect((await get('siteId=s&from=2024-12-01&to=2024-12-02')).body.message).toBe(
      'No stats found for site s between 2024-12-01 and 2024-12-02',
    );
    expect((await get('siteId=nobody&date=2024-11-14')).status).toBe(404);
  });

  it('400 listing every bad parameter', async () => {
    expect(await get('date=2024-13-01')).toMatchObject({
      status: 400,
      body: {
        statusCode: 400,
        error: 'Bad Request',
        message: ['siteId should not be empty', 'date must be a real calendar date'],
      },
    });
    expect((await get('siteId=s')).body.message).toEqual(['date should not be empty (or give from and to)']);
    expect((await get('siteId=s&date=2024-11-14&limit=500')).body.message).toEqual(['limit must be at most 100']);
  });

  it('answers CORS for STATS_CORS_ORIGINS only', async () => {
    const allowed = await stack.app.request('/api/stats?siteId=s&date=2024-11-14', {
      headers: { Origin: 'https://dash.example' },
    });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://dash.example');
    const other = await stack.app.request('/api/stats?siteId=s&date=2024-11-14', {
      headers: { Origin: 'https://evil.example' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('405 for POST', async () => {
    const response = await stack.app.request('/api/stats', { method: 'POST' });
    expect(response.status).toBe(405);
  });
});
