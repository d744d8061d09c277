import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { eventsOf } from '../test/collector.js';
import { createTracker, type TallyOptions } from './tracker.js';

let sites = 0;

/** Tracks one event and a page view on a fresh site; resolves with what the API received for it. */
async function tryTracking(options: Partial<TallyOptions> = {}) {
  const siteId = `privacy_${++sites}`;
  const tracker = createTracker({ siteId, api: 'https://example.com', excludeWebdriver: false, ...options });
  tracker.track('click');
  await tracker.flush(); // resolves once the API has answered: nothing more can arrive
  return eventsOf(siteId).map((e) => e.eventType);
}

const setNavigator = (key: string, value: unknown) =>
  Object.defineProperty(navigator, key, { value, configurable: true, writable: true });

/** happy-dom's handle on its window, for changing the page URL. */
const happyDOM = (window as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM;

beforeEach(() => localStorage.clear());
afterEach(() => {
  vi.restoreAllMocks();
  setNavigator('doNotTrack', 'unspecified');
  setNavigator('globalPrivacyControl', undefined);
  happyDOM.setURL('https://example.com/');
});

describe('privacy defaults', () => {
  test('a plain visit is tracked (the control for the cases below)', async () => {
    expect(await tryTracking()).toEqual(['page_view', 'click']);
  });

  test('Do Not Track stops tracking unless respectDnt is false', async () => {
    setNavigator('doNotTrack', '1');
    expect(await tryTracking()).toEqual([]);
    expect(await tryTracking({ respectDnt: false })).toEqual(['page_view', 'click']);
  });

  test('Global Privacy Control stops tracking unless respectDnt is false', async () => {
    setNavigator('globalPrivacyControl', true);
    expect(await tryTracking()).toEqual([]);
    expect(await tryTracking({ respectDnt: false })).toEqual(['page_view', 'click']);
  });

  test('navigator.webdriver stops tracking unless excludeWebdriver is false', async () => {
    expect(navigator.webdriver).toBe(true);
    expect(await tryTracking({ excludeWebdriver: undefined })).toEqual([]);
    expect(await tryTracking({ excludeWebdriver: false })).toEqual(['page_view', 'click']);
  });

  test.each(['http://localhost:3000/', 'http://127.0.0.1:8080/', 'http://[::1]/'])(
    'a page on %s is skipped unless excludeLocalhost is false',
    async (url) => {
      happyDOM.setURL(url);
      expect(await tryTracking()).toEqual([]);
      expect(await tryTracking({ excludeLocalhost: false })).toEqual(['page_view', 'click']);
    },
  );

  test('optOut persists across trackers (page loads) until optIn', async () => {
    const siteId = `privacy_${++sites}`;
    const options = { siteId, api: 'https://example.com', excludeWebdriver: false, autoPageviews: false };
    const first = createTracker(options);
    first.track('queued_before_opt_out');
    first.optOut();
    first.track('after_opt_out');
    await first.flush();
    const second = createTracker(options);
    second.track('next_page');
    await second.flush();
    expect(eventsOf(siteId)).toEqual([]);
    expect(localStorage.getItem(`tally_q:${siteId}`)).toBeNull();

    second.optIn();
    second.track('after_opt_in');
    await second.flush();
    expect(eventsOf(siteId).map((e) => e.eventType)).toEqual(['after_opt_in']);
  });
});
