import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonOf, pageView, postJson, startTestStack, type TestStack } from '../test/support.js';
import { createStatsCache } from './stats-cache.js';

const answer = (body: string) => ({ status: 200 as const, body });

describe('createStatsCache', () => {
  it('keeps an answer until its site is invalidated or it expires', async () => {
    const cache = createStatsCache({ ttlMs: 50 });
    cache.set('a', 'k', answer('1'), cache.generation('a'));
    cache.set('b', 'k', answer('2'), cache.generation('b'));
    expect(cache.get('a', 'k')?.body).toBe('1');
    cache.invalidateSites(['a']);
    expect(cache.get('a', 'k')).toBeUndefined();
    expect(cache.get('b', 'k')?.body).toBe('2');
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(cache.get('b', 'k')).toBeUndefined();
  });

  it('refuses an answer read before a fold that invalidated its site', () => {
    const cache = createStatsCache({ ttlMs: 1_000 });
    const before = cache.generation('a');
    cache.set('a', 'warm', answer('x'), before);
    cache.invalidateSites(['a']);
    cache.set('a', 'k', answer('stale'), before);
    expect(cache.get('a', 'k')).toBeUndefined();
    cache.set('a', 'k', answer('fresh'), cache.generation('a'));
    expect(cache.get('a', 'k')?.body).toBe('fresh');
  });

  it('caches nothing with a TTL of 0', () => {
    const cache = createStatsCache({ ttlMs: 0 });
    cache.set('a', 'k', answer('1'), 0);
    expect(cache.get('a', 'k')).toBeUndefined();
  });
});

describe('/api/stats through the cache', () => {
  let stack: TestStack;
  const stats = async () => {
    const response = await stack.app.request('/api/stats?siteId=cached&date=2024-11-14');
    return { status: response.status, body: await jsonOf(response) };
  };
  beforeAll(async () => {
    stack = await startTestStack({ env: { STATS_CACHE_MS: '60000' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('answers repeated reads from memory, and a fold of the site makes the next read fresh', async () => {
    expect((await stats()).status).toBe(404);
    await postJson(stack.app, '/api/event', pageView({ siteId: 'cached' }));
    await stack.drain();
    // The fold invalidated the cached 404.
    expect(await stats()).toMatchObject({ status: 200, body: { totalViews: 1 } });

    // A change behind the cache's back (no fold) is not seen: the answer came from memory.
    await stack.query("update site_daily_aggregates set total_views = 99 where site_id = 'cached'");
    expect((await stats()).body.totalViews).toBe(1);

    await postJson(stack.app, '/api/event', pageView({ siteId: 'cached', path: '/2' }));
    await stack.drain();
    expect((await stats()).body.totalViews).toBe(100);
  });
});
