import { beforeEach, describe, expect, test } from 'vitest';
import { eventsOf } from '../test/collector.js';
import { createTracker, type TallyOptions } from './tracker.js';

let sites = 0;

function start(options: Partial<TallyOptions> = {}) {
  const siteId = `spa_${++sites}`;
  const tracker = createTracker({
    siteId,
    api: 'https://example.com',
    excludeWebdriver: false,
    flushInterval: 60_000,
    batchSize: 1000,
    ...options,
  });
  const views = async () => {
    await tracker.flush();
    return eventsOf(siteId)
      .filter((e) => e.eventType === 'page_view')
      .map((e) => [e.path, e.referrer]);
  };
  return { siteId, tracker, views };
}

const popTo = (url: string) => {
  // What the browser does on Back: the URL changes, then popstate fires.
  history.replaceState(null, '', url);
  window.dispatchEvent(new PopStateEvent('popstate'));
};

beforeEach(() => {
  localStorage.clear();
  history.replaceState(null, '', '/');
});

describe('automatic page views', () => {
  test('one on load with document.referrer, one per distinct path on pushState/replaceState/popstate', async () => {
    Object.defineProperty(document, 'referrer', { value: 'https://search.example.net/?q=tally', configurable: true });
    const { views } = start();
    history.pushState(null, '', '/docs');
    history.pushState(null, '', '/docs'); // same URL: no duplicate
    history.replaceState({ scroll: 10 }, '', '/docs'); // state only: no duplicate
    history.pushState(null, '', '/docs?tab=2'); // the query string is not part of the path
    history.replaceState(null, '', '/pricing');
    popTo('/docs');
    expect(await views()).toEqual([
      ['/', 'https://search.example.net/?q=tally'],
      ['/docs', 'https://example.com/'],
      ['/pricing', 'https://example.com/docs'],
      ['/docs', 'https://example.com/pricing'],
    ]);
    Object.defineProperty(document, 'referrer', { value: '', configurable: true });
  });

  test('hash changes count only with the hash option', async () => {
    /** Sets the hash and resolves once the page (and so the tracker) has seen its `hashchange`. */
    const setHash = (hash: string) => {
      const seen = new Promise((resolve) => addEventListener('hashchange', resolve, { once: true }));
      location.hash = hash;
      return seen;
    };
    const plain = start();
    await setHash('#/settings');
    expect(await plain.views()).toEqual([['/', undefined]]);

    history.replaceState(null, '', '/');
    const hashed = start({ hash: true });
    await setHash('#/settings');
    history.pushState(null, '', '/#/profile');
    expect((await hashed.views()).map(([path]) => path)).toEqual(['/', '/#/settings', '/#/profile']);
  });

  test('a page restored from the back/forward cache counts again; a normal pageshow does not', async () => {
    const { views } = start();
    // happy-dom has no PageTransitionEvent; an Event with `persisted` is what the tracker reads.
    window.dispatchEvent(Object.assign(new Event('pageshow'), { persisted: false }));
    window.dispatchEvent(Object.assign(new Event('pageshow'), { persisted: true }));
    expect((await views()).map(([path]) => path)).toEqual(['/', '/']);
  });

  test('spa: false sends only the first view; autoPageviews: false none, and pageview() sends one on demand', async () => {
    const noSpa = start({ spa: false });
    history.pushState(null, '', '/a');
    expect((await noSpa.views()).map(([path]) => path)).toEqual(['/']);

    const manual = start({ autoPageviews: false });
    history.pushState(null, '', '/b');
    expect(await manual.views()).toEqual([]);
    manual.tracker.pageview({ source: 'router' });
    await manual.tracker.flush();
    expect(eventsOf(manual.siteId).map((e) => [e.eventType, e.path, e.props])).toEqual([
      ['page_view', '/b', { source: 'router' }],
    ]);
  });

  test('the History API still behaves as before', () => {
    start();
    const result = history.pushState({ id: 7 }, '', '/kept');
    expect(result).toBeUndefined();
    expect(location.pathname).toBe('/kept');
    expect(history.state).toEqual({ id: 7 });
  });
});
