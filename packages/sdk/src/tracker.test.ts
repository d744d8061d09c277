import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { brokenStorage } from '../test/broken-storage.js';
import { answerWith, eventsOf, requestsOf } from '../test/collector.js';
import { createTracker, type TallyOptions } from './tracker.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
let sites = 0;

/** A tracker on a site of its own, so listeners left by earlier tests never mix into this one's events. */
function start(options: Partial<TallyOptions> = {}) {
  const siteId = `site_${++sites}`;
  const tracker = createTracker({
    siteId,
    api: 'https://example.com',
    excludeWebdriver: false, // happy-dom reports navigator.webdriver = true
    autoPageviews: false,
    flushInterval: 20,
    ...options,
  });
  return { siteId, tracker };
}

beforeEach(() => {
  localStorage.clear();
  history.replaceState(null, '', '/');
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

/**
 * A fake clock for the tracker's timers (batch interval, backoff) and `Date`; the network stays
 * real (msw answers within `advanceTimersByTimeAsync`), so timing is asserted to the millisecond.
 */
const useFakeClock = () => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });

/** The event types of each request `fetch` was asked to send for `siteId`, synchronously. */
function posted(fetchSpy: { mock: { calls: unknown[][] } }, siteId: string): string[][] {
  return fetchSpy.mock.calls
    .map(([, init]) => String((init as RequestInit | undefined)?.body))
    .filter((body) => body.includes(`"siteId":"${siteId}"`))
    .map((body) => JSON.parse(body).events.map((e: { eventType: string }) => e.eventType));
}

describe('events', () => {
  test('a custom event carries a fresh UUID eventId, the visitorId, the path and an ISO timestamp', async () => {
    history.replaceState(null, '', '/pricing?utm_source=x#plans');
    const { siteId, tracker } = start();
    tracker.identify('user_1');
    tracker.track('signup', { plan: 'pro', seats: 3, trial: true });
    tracker.track('signup');
    await vi.waitFor(() => expect(eventsOf(siteId)).toHaveLength(2));
    const [first, second] = eventsOf(siteId);
    expect(first).toMatchObject({
      siteId,
      eventType: 'signup',
      path: '/pricing',
      utmSource: 'x',
      userId: 'user_1',
      props: { plan: 'pro', seats: 3, trial: true },
    });
    expect(first?.eventId).toMatch(UUID);
    expect(second?.eventId).toMatch(UUID);
    expect(first?.eventId).not.toBe(second?.eventId);
    expect(first?.visitorId).toMatch(UUID);
    expect(second?.visitorId).toBe(first?.visitorId);
    expect(Math.abs(Date.parse(first?.timestamp ?? '') - Date.now())).toBeLessThan(5000);
    expect(first?.referrer).toBeUndefined();
  });

  test('utm_* parameters, language and screen width go with every event; nothing else of the query string', async () => {
    Object.defineProperty(document, 'referrer', { value: 'https://news.example.net/item?id=7', configurable: true });
    history.replaceState(
      null,
      '',
      '/landing?utm_source=newsletter&utm_medium=email&utm_campaign=spring%20sale&utm_term=shoes' +
        '&utm_content=&token=s3cret&email=ann%40example.org#top',
    );
    const { siteId, tracker } = start({ autoPageviews: true });
    tracker.track('signup');
    history.replaceState(null, '', `/next?utm_source=${'s'.repeat(300)}&utm_medium=%00&utm_campaign=a%00b`);
    tracker.track('later');
    await tracker.flush();
    Object.defineProperty(document, 'referrer', { value: '', configurable: true });

    const [view, signup, later] = eventsOf(siteId);
    const enrichment = { language: navigator.language, screenWidth: screen.width };
    expect(enrichment.language).toMatch(/^[a-z]{2}/i);
    expect(Number.isInteger(enrichment.screenWidth)).toBe(true);
    expect(view).toMatchObject({
      eventType: 'page_view',
      path: '/landing',
      referrer: 'https://news.example.net/item?id=7', // the referrer goes as the browser gives it
      utmSource: 'newsletter',
      utmMedium: 'email',
      utmCampaign: 'spring sale',
      utmTerm: 'shoes',
      ...enrichment,
    });
    expect(view).not.toHaveProperty('utmContent'); // empty: not sent
    expect(signup).toMatchObject({ eventType: 'signup', path: '/landing', utmSource: 'newsletter', ...enrichment });
    // Cut to the server's 256 characters; a NUL (which the server refuses) is dropped.
    expect(later).toMatchObject({ path: '/next', utmSource: 's'.repeat(256), utmCampaign: 'ab' });
    expect(later).not.toHaveProperty('utmMedium');
    expect(later).not.toHaveProperty('utmTerm');
    const wire = JSON.stringify(requestsOf(siteId));
    for (const leak of ['s3cret', 'token', 'ann', '#top', '?utm']) expect(wire).not.toContain(leak);
  });

  test.each([
    ['/_t', 'https://example.com/_t/api/events'],
    ['/_t/', 'https://example.com/_t/api/events'],
    ['', 'https://example.com/api/events'],
    ['https://stats.example.org/base/', 'https://stats.example.org/base/api/events'],
  ])('api %j sends to %s (a path is on the page origin)', async (api, url) => {
    const { siteId, tracker } = start({ api });
    tracker.track('a');
    await tracker.flush();
    expect(requestsOf(siteId).map((r) => r.url)).toEqual([url]);
  });

  test('an api that is no URL gives a tracker that does nothing, without throwing', async () => {
    const tracker = createTracker({ siteId: 'bad_api', api: 'https://exa mple.com' });
    expect(() => tracker.track('a')).not.toThrow();
    await expect(tracker.flush()).resolves.toBeUndefined();
  });

  test('the visitorId lives in localStorage and is shared by the next tracker', async () => {
    const a = start();
    a.tracker.track('x');
    await vi.waitFor(() => expect(eventsOf(a.siteId)).toHaveLength(1));
    const b = start();
    b.tracker.track('y');
    await vi.waitFor(() => expect(eventsOf(b.siteId)).toHaveLength(1));
    expect(eventsOf(b.siteId)[0]?.visitorId).toBe(eventsOf(a.siteId)[0]?.visitorId);
    expect(localStorage.getItem('tally_vid')).toBe(JSON.stringify(eventsOf(a.siteId)[0]?.visitorId));
  });

  test('identify(null) forgets the user', async () => {
    const { siteId, tracker } = start();
    tracker.identify('u');
    tracker.track('a');
    tracker.identify(null);
    tracker.track('b');
    await vi.waitFor(() => expect(eventsOf(siteId)).toHaveLength(2));
    expect(eventsOf(siteId).map((e) => e.userId)).toEqual(['u', undefined]);
  });

  test('batches go to /api/events as a text/plain JSON body, with keepalive and credentials', async () => {
    const fetchSpy = vi.spyOn(window, 'fetch');
    const { siteId, tracker } = start();
    tracker.track('a');
    await vi.waitFor(() => expect(requestsOf(siteId)).toHaveLength(1));
    const [request] = requestsOf(siteId);
    expect(request?.url).toBe('https://example.com/api/events');
    expect(request?.contentType).toMatch(/^text\/plain/);
    expect(fetchSpy).toHaveBeenCalledWith(
      'https://example.com/api/events',
      expect.objectContaining({ method: 'POST', keepalive: true, credentials: 'include' }),
    );
  });
});

describe('batching', () => {
  test('a full batch goes at once; fewer events wait for the interval', async () => {
    useFakeClock();
    const fetchSpy = vi.spyOn(window, 'fetch');
    const { siteId, tracker } = start({ batchSize: 3, flushInterval: 300 });
    tracker.track('a');
    await vi.advanceTimersByTimeAsync(200);
    tracker.track('b');
    await vi.advanceTimersByTimeAsync(99); // the interval counts from the first waiting event
    expect(posted(fetchSpy, siteId)).toEqual([]);
    tracker.track('c');
    expect(posted(fetchSpy, siteId)).toEqual([['a', 'b', 'c']]); // at once, not at 300 ms
    await tracker.flush(); // the request in flight is answered

    tracker.track('d');
    await vi.advanceTimersByTimeAsync(299);
    expect(posted(fetchSpy, siteId)).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(posted(fetchSpy, siteId)).toEqual([['a', 'b', 'c'], ['d']]);
    await tracker.flush();
    expect(eventsOf(siteId).map((e) => e.eventType)).toEqual(['a', 'b', 'c', 'd']);
  });

  test('flush() sends now and resolves when the server has answered', async () => {
    const { siteId, tracker } = start({ flushInterval: 60_000 });
    tracker.track('a');
    await tracker.flush();
    expect(eventsOf(siteId).map((e) => e.eventType)).toEqual(['a']);
  });

  test('no request holds more than 100 events or 64 KiB', async () => {
    const { siteId, tracker } = start({ batchSize: 10_000, flushInterval: 60_000, maxQueue: 1000 });
    for (let i = 0; i < 250; i++) tracker.track('small', { i });
    const big = { text: 'é'.repeat(400) };
    const props = Object.fromEntries(Array.from({ length: 30 }, (_, k) => [`k${k}`, big.text]));
    for (let i = 0; i < 20; i++) tracker.track('big', props);
    await tracker.flush();
    await vi.waitFor(() => expect(eventsOf(siteId)).toHaveLength(270));
    const requests = requestsOf(siteId);
    expect(requests.map((r) => r.events.length).slice(0, 2)).toEqual([100, 100]);
    for (const request of requests) {
      expect(request.events.length).toBeLessThanOrEqual(100);
      expect(request.bytes).toBeLessThanOrEqual(64 * 1024);
    }
    expect(requests.length).toBeGreaterThan(4); // the 20 big events (~24 KB each) cannot share one request
    expect(new Set(eventsOf(siteId).map((e) => e.eventId)).size).toBe(270);
  });
});

describe('leaving the page', () => {
  test('pagehide hands everything waiting to sendBeacon as text/plain {"events": [...]}', async () => {
    const beacon = vi.spyOn(navigator, 'sendBeacon');
    const { siteId, tracker } = start({ flushInterval: 60_000 });
    tracker.track('a');
    tracker.track('b', { n: 1 });
    window.dispatchEvent(new Event('pagehide'));
    const mine = beacon.mock.calls.filter(([, body]) => String(body).includes(siteId));
    expect(mine).toHaveLength(1);
    const [url, body] = mine[0] as [string, string];
    expect(url).toBe('https://example.com/api/events');
    expect(typeof body).toBe('string'); // a string body is sent as text/plain: no preflight
    const sent = JSON.parse(body);
    expect(Object.keys(sent)).toEqual(['events']);
    expect(sent.events.map((e: { eventType: string }) => e.eventType)).toEqual(['a', 'b']);
    await vi.waitFor(() => expect(eventsOf(siteId)).toHaveLength(2));
    expect(localStorage.getItem(`tally_q:${siteId}`)).toBeNull();
  });

  test('visibilitychange to hidden flushes by beacon too', async () => {
    const beacon = vi.spyOn(navigator, 'sendBeacon');
    const { siteId, tracker } = start({ flushInterval: 60_000 });
    tracker.track('a');
    vi.spyOn(document, 'visibilityState', 'get').mockReturnValue('hidden');
    document.dispatchEvent(new Event('visibilitychange'));
    expect(beacon.mock.calls.filter(([, body]) => String(body).includes(siteId))).toHaveLength(1);
    await vi.waitFor(() => expect(eventsOf(siteId)).toHaveLength(1));
  });

  test.each([
    ['returns false', () => false],
    [
      'throws',
      () => {
        throw new TypeError('beacon quota exceeded');
      },
    ],
  ])('when sendBeacon %s, fetch with keepalive delivers instead', async (_, beaconImpl) => {
    vi.spyOn(navigator, 'sendBeacon').mockImplementation(beaconImpl);
    const fetchSpy = vi.spyOn(window, 'fetch');
    const { siteId, tracker } = start({ flushInterval: 60_000 });
    tracker.track('a');
    expect(() => window.dispatchEvent(new Event('pagehide'))).not.toThrow();
    await vi.waitFor(() => expect(eventsOf(siteId).map((e) => e.eventType)).toEqual(['a']));
    expect(fetchSpy).toHaveBeenCalledWith(
      'https://example.com/api/events',
      expect.objectContaining({ keepalive: true, credentials: 'include' }),
    );
    await vi.waitFor(() => expect(localStorage.getItem(`tally_q:${siteId}`)).toBeNull());
  });
});

describe('failures', () => {
  test('a failed send is retried after 1 s, then 2 s, keeping every eventId', async () => {
    useFakeClock();
    const times: number[] = [];
    answerWith(() => {
      times.push(Date.now());
      return times.length <= 2 ? new Response('busy', { status: 503 }) : undefined;
    });
    const { siteId, tracker } = start();
    const t0 = Date.now();
    tracker.track('a');
    tracker.track('b');
    await vi.advanceTimersByTimeAsync(20);
    expect(requestsOf(siteId)).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(requestsOf(siteId)).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(requestsOf(siteId)).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1999);
    expect(requestsOf(siteId)).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(requestsOf(siteId)).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(120_000); // accepted: nothing more
    expect(times.map((t) => t - t0)).toEqual([20, 1020, 3020]);

    const [first, second, third] = requestsOf(siteId).map((r) => r.events.map((e) => e.eventId));
    expect(first).toHaveLength(2);
    for (const id of first ?? []) expect(id).toMatch(UUID);
    expect(second).toEqual(first);
    expect(third).toEqual(first);
    expect(localStorage.getItem(`tally_q:${siteId}`)).toBeNull();
  });

  test('backoff doubles up to 60 s, and events made meanwhile wait for the retry', async () => {
    useFakeClock();
    const times: number[] = [];
    answerWith(() => {
      times.push(Date.now());
      return new Response('down', { status: 500 });
    });
    const { siteId, tracker } = start({ batchSize: 2 });
    tracker.track('a');
    await vi.advanceTimersByTimeAsync(20);
    tracker.track('b');
    tracker.track('c'); // a full batch, but a retry is waiting: no request before it
    await vi.advanceTimersByTimeAsync(1000 + 2000 + 4000 + 8000 + 16_000 + 32_000 + 60_000 + 60_000);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(gaps).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
    expect(requestsOf(siteId).map((r) => r.events.length)).toEqual([1, 3, 3, 3, 3, 3, 3, 3, 3]);
  });

  test('network errors are retried; a 400 is not (resending cannot help)', async () => {
    useFakeClock();
    let calls = 0;
    answerWith(() => (++calls === 1 ? Response.error() : new Response('{}', { status: 400 })));
    const { siteId, tracker } = start();
    tracker.track('a');
    await vi.advanceTimersByTimeAsync(20);
    expect(requestsOf(siteId)).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(requestsOf(siteId)).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(requestsOf(siteId)).toHaveLength(2);
    expect(requestsOf(siteId)[1]?.events[0]?.eventId).toBe(requestsOf(siteId)[0]?.events[0]?.eventId);
    expect(localStorage.getItem(`tally_q:${siteId}`)).toBeNull();
  });

  test('unsent events persist and the next tracker on the next page load sends them with the same ids', async () => {
    answerWith(() => Response.error());
    const first = start({ flushInterval: 60_000 });
    first.tracker.track('a');
    first.tracker.track('b');
    await first.tracker.flush();
    const failedIds = requestsOf(first.siteId)[0]?.events.map((e) => e.eventId);
    const stored = JSON.parse(localStorage.getItem(`tally_q:${first.siteId}`) ?? '[]');
    expect(stored.map((e: { eventId: string }) => e.eventId)).toEqual(failedIds);

    answerWith(() => undefined);
    const before = requestsOf(first.siteId).length;
    createTracker({ siteId: first.siteId, api: 'https://example.com', excludeWebdriver: false, autoPageviews: false });
    await vi.waitFor(() => expect(requestsOf(first.siteId)).toHaveLength(before + 1));
    expect(requestsOf(first.siteId)[before]?.events.map((e) => e.eventId)).toEqual(failedIds);
    await vi.waitFor(() => expect(localStorage.getItem(`tally_q:${first.siteId}`)).toBeNull());
  });

  test('persistence is bounded: the oldest events go first', async () => {
    answerWith(() => Response.error());
    const { siteId, tracker } = start({ maxQueue: 5, flushInterval: 60_000, batchSize: 1000 });
    for (let i = 0; i < 8; i++) tracker.track(`e${i}`);
    const stored = JSON.parse(localStorage.getItem(`tally_q:${siteId}`) ?? '[]');
    expect(stored.map((e: { eventType: string }) => e.eventType)).toEqual(['e3', 'e4', 'e5', 'e6', 'e7']);
  });

  test('offline, nothing is sent; back online, it all goes once', async () => {
    useFakeClock();
    const online = vi.spyOn(navigator, 'onLine', 'get').mockReturnValue(false);
    const { siteId, tracker } = start();
    tracker.track('a');
    window.dispatchEvent(new Event('pagehide'));
    await vi.advanceTimersByTimeAsync(120_000);
    expect(requestsOf(siteId)).toHaveLength(0);
    expect(JSON.parse(localStorage.getItem(`tally_q:${siteId}`) ?? '[]')).toHaveLength(1);
    online.mockReturnValue(true);
    window.dispatchEvent(new Event('online'));
    await tracker.flush(); // the request the `online` event started
    expect(eventsOf(siteId).map((e) => e.eventType)).toEqual(['a']);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(eventsOf(siteId)).toHaveLength(1);
  });

  test('after a failed send, a beacon on pagehide keeps a stored copy for the next load', async () => {
    answerWith(() => Response.error());
    const beacon = vi.spyOn(navigator, 'sendBeacon').mockReturnValue(true);
    const { siteId, tracker } = start({ flushInterval: 60_000 });
    tracker.track('a');
    await tracker.flush();
    window.dispatchEvent(new Event('pagehide'));
    expect(beacon.mock.calls.filter(([, body]) => String(body).includes(siteId))).toHaveLength(1);
    expect(JSON.parse(localStorage.getItem(`tally_q:${siteId}`) ?? '[]')).toHaveLength(1);
  });
});

describe('beforeSend', () => {
  test('may edit an event or drop it, and a throwing hook drops without throwing', async () => {
    const { siteId, tracker } = start({
      beforeSend: (event) => {
        if (event.eventType === 'secret') return null;
        if (event.eventType === 'broken') throw new Error('bug in the hook');
        return { ...event, path: '/redacted', props: { ...event.props, edited: true } };
      },
    });
    tracker.track('secret');
    expect(() => tracker.track('broken')).not.toThrow();
    tracker.track('kept', { a: 1 });
    await tracker.flush();
    expect(eventsOf(siteId).map((e) => [e.eventType, e.path, e.props])).toEqual([
      ['kept', '/redacted', { a: 1, edited: true }],
    ]);
  });
});

describe('never throws into the page', () => {
  test('with localStorage throwing on every call, events still go out', async () => {
    vi.stubGlobal('localStorage', brokenStorage);
    const { siteId, tracker } = start({ autoPageviews: true });
    expect(() => tracker.track('a')).not.toThrow();
    await tracker.flush();
    expect(eventsOf(siteId).map((e) => e.eventType)).toEqual(['page_view', 'a']);
  });

  test('with fetch throwing synchronously, flush resolves and nothing escapes', async () => {
    vi.spyOn(window, 'fetch').mockImplementation(() => {
      throw new TypeError('blocked by an extension');
    });
    const { tracker } = start();
    expect(() => tracker.track('a')).not.toThrow();
    await expect(tracker.flush()).resolves.toBeUndefined();
    expect(() => window.dispatchEvent(new Event('pagehide'))).not.toThrow();
  });

  test('without a siteId the tracker does nothing', async () => {
    const tracker = createTracker({ siteId: '' });
    tracker.track('a');
    await expect(tracker.flush()).resolves.toBeUndefined();
  });
});
