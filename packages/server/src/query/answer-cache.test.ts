import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonOf, pageView, postJson, startTestStack, type TestStack } from '../../test/support.js';
import { createAnswerCache } from './answer-cache.js';

const answer = (body: string) => ({ status: 200 as const, body });

describe('createAnswerCache', () => {
  it('keeps an answer until its site is invalidated or it expires', async () => {
    const cache = createAnswerCache({ ttlMs: 50 });
    cache.set('a', 'k', answer('1'), cache.generation());
    cache.set('b', 'k', answer('2'), cache.generation());
    expect(cache.get('a', 'k')?.body).toBe('1');
    cache.invalidateSites(['a']);
    expect(cache.get('a', 'k')).toBeUndefined();
    expect(cache.get('b', 'k')?.body).toBe('2');
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(cache.get('b', 'k')).toBeUndefined();
  });

  it('refuses an answer read before a fold that invalidated its site, even a site it never saw', () => {
    const cache = createAnswerCache({ ttlMs: 1_000 });
    const before = cache.generation();
    cache.invalidateSites(['new-site']);
    cache.set('new-site', 'k', answer('stale'), before);
    expect(cache.get('new-site', 'k')).toBeUndefined();
    cache.set('new-site', 'k', answer('fresh'), cache.generation());
    expect(cache.get('new-site', 'k')?.body).toBe('fresh');
    // A site invalidated after another was read is no reason to refuse the other's answer.
    const mark = cache.generation();
    cache.invalidateSites(['other']);
    cache.set('a', 'k', answer('a'), mark);
    expect(cache.get('a', 'k')?.body).toBe('a');
  });

  it('stays within maxSites, treating a forgotten site as just invalidated', () => {
    const cache = createAnswerCache({ ttlMs: 1_000, maxSites: 2 });
    const before = cache.generation();
    cache.invalidateSites(['a', 'b', 'c']); // 'a' is forgotten to make room for 'c'
    cache.set('a', 'k', answer('stale'), before);
    expect(cache.get('a', 'k')).toBeUndefined();
    cache.set('a', 'k', answer('fresh'), cache.generation());
    expect(cache.get('a', 'k')?.body).toBe('fresh');
  });

  it('30,000 distinct queries for one site keep the cache within its bounds', async () => {
    const cache = createAnswerCache({ ttlMs: 60_000, maxEntries: 1_000, maxEntriesPerSite: 200, maxBytes: 64 * 1024 });
    for (let i = 0; i < 30_000; i++) {
      cache.set('busy', `q${i}`, answer(`{"n":${i}}`), cache.generation());
      expect(cache.size.entries).toBeLessThanOrEqual(200);
    }
    expect(cache.get('busy', 'q29999')?.body).toBe('{"n":29999}'); // the newest stay
    expect(cache.get('busy', 'q0')).toBeUndefined();
    // Other sites still get their room, up to the overall bound.
    for (let i = 0; i < 30_000; i++) cache.set(`site${i % 50}`, `q${i}`, answer('x'.repeat(40)), cache.generation());
    expect(cache.size.entries).toBeLessThanOrEqual(1_000);
    expect(cache.size.bytes).toBeLessThanOrEqual(64 * 1024);
    cache.invalidateSites(Array.from({ length: 50 }, (_, i) => `site${i}`).concat('busy'));
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
  });

  it('weighs keys as well as bodies: a query key can be long', () => {
    const cache = createAnswerCache({ ttlMs: 60_000, maxBytes: 4_096 });
    cache.set('a', 'k'.repeat(5_000), answer('1'), cache.generation());
    expect(cache.size).toEqual({ entries: 0, bytes: 0 }); // bigger than the whole cache
    for (let i = 0; i < 10; i++) cache.set('a', `${i}${'k'.repeat(1_000)}`, answer('1'), cache.generation());
    expect(cache.size.entries).toBe(4); // 4 × (2 + 1,001 + 1) bytes fit in 4 KiB, 5 do not
    expect(cache.size.bytes).toBe(4 * 1_004);
  });

  it('drops expired answers rather than keep them', async () => {
    const cache = createAnswerCache({ ttlMs: 20, maxEntries: 10 });
    for (let i = 0; i < 10; i++) cache.set(`s${i}`, 'k', answer('1'), cache.generation());
    await new Promise((resolve) => setTimeout(resolve, 30));
    cache.set('fresh', 'k', answer('2'), cache.generation());
    expect(cache.size.entries).toBe(1); // making room swept the expired ones
    expect(cache.get('fresh', 'k')?.body).toBe('2');
  });

  it('caches nothing with a TTL of 0', () => {
    const cache = createAnswerCache({ ttlMs: 0 });
    cache.set('a', 'k', answer('1'), cache.generation());
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
