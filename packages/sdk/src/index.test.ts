import { beforeEach, describe, expect, test, vi } from 'vitest';
import { eventsOf } from '../test/collector.js';

beforeEach(() => {
  localStorage.clear();
  vi.resetModules();
});

describe('npm entry', () => {
  test('calls made before init are replayed by it; init twice keeps the first tracker', async () => {
    const sdk = await import('./index.js');
    sdk.identify('user_7');
    sdk.track('early', { a: 1 });
    await expect(sdk.flush()).resolves.toBeUndefined();
    const options = { siteId: 'npm_entry', api: 'https://example.com', excludeWebdriver: false, flushInterval: 60_000 };
    const tracker = sdk.init(options);
    expect(sdk.init({ ...options, siteId: 'other' })).toBe(tracker);
    sdk.track('late');
    sdk.pageview({ manual: true });
    await sdk.flush();
    expect(eventsOf('npm_entry').map((e) => [e.eventType, e.userId, e.props])).toEqual([
      ['page_view', undefined, undefined],
      ['early', 'user_7', { a: 1 }],
      ['late', 'user_7', undefined],
      ['page_view', 'user_7', { manual: true }],
    ]);
    sdk.optOut();
    sdk.track('dropped');
    await sdk.flush();
    sdk.optIn();
    sdk.track('back');
    await sdk.flush();
    expect(
      eventsOf('npm_entry')
        .map((e) => e.eventType)
        .slice(4),
    ).toEqual(['back']);
  });

  test('createTracker makes independent trackers for two sites', async () => {
    const { createTracker } = await import('./index.js');
    const base = { api: 'https://example.com', excludeWebdriver: false, autoPageviews: false };
    const a = createTracker({ ...base, siteId: 'multi_a' });
    const b = createTracker({ ...base, siteId: 'multi_b' });
    a.track('only_a');
    b.identify('b_user');
    b.track('only_b');
    await Promise.all([a.flush(), b.flush()]);
    expect(eventsOf('multi_a').map((e) => [e.eventType, e.userId])).toEqual([['only_a', undefined]]);
    expect(eventsOf('multi_b').map((e) => [e.eventType, e.userId])).toEqual([['only_b', 'b_user']]);
  });
});
