/**
 * The `debug` option: with it, the console says why an event was not sent
 * (one `[tally]` line per event) and when a send failed; without it, nothing.
 */
import { afterEach, beforeEach, describe, expect, type MockInstance, test, vi } from 'vitest';
import { answerWith, eventsOf } from '../test/collector.js';
import { createTracker, type TallyOptions } from './tracker.js';

let sites = 0;
let info: MockInstance<typeof console.info>;

const setNavigator = (key: string, value: unknown) =>
  Object.defineProperty(navigator, key, { value, configurable: true, writable: true });

/** happy-dom's handle on its window, for changing the page URL. */
const happyDOM = (window as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM;

/** A tracker with `debug: true` on a fresh site; happy-dom is driven by automation, so webdriver is allowed unless asked. */
function start(options: Partial<TallyOptions> = {}) {
  const siteId = `debug_${++sites}`;
  const tracker = createTracker({
    siteId,
    api: 'https://example.com',
    excludeWebdriver: false,
    autoPageviews: false,
    flushInterval: 20,
    debug: true,
    ...options,
  });
  return { siteId, tracker };
}

beforeEach(() => {
  localStorage.clear();
  info = vi.spyOn(console, 'info').mockImplementation(() => {});
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  setNavigator('doNotTrack', 'unspecified');
  setNavigator('globalPrivacyControl', undefined);
  happyDOM.setURL('https://example.com/');
});

describe('debug option', () => {
  test.each<[string, () => void, Partial<TallyOptions>, string]>([
    ['Do Not Track', () => setNavigator('doNotTrack', '1'), {}, 'DNT'],
    ['Global Privacy Control', () => setNavigator('globalPrivacyControl', true), {}, 'GPC'],
    ['an opt-out', () => localStorage.setItem('tally_optout', '1'), {}, 'optOut'],
    ['a localhost page', () => happyDOM.setURL('http://localhost:3000/'), {}, 'localhost'],
    ['an automated browser', () => {}, { excludeWebdriver: undefined }, 'webdriver'],
    ['beforeSend dropping it', () => {}, { beforeSend: () => null }, 'beforeSend'],
  ])('%s: says why the event was not sent', async (_, setup, options, reason) => {
    setup();
    const { siteId, tracker } = start(options);
    tracker.track('click');
    await tracker.flush();
    expect(eventsOf(siteId)).toEqual([]);
    expect(info.mock.calls).toEqual([['[tally]', 'click', 'not sent:', reason]]);
  });

  test('a failed send says when it is retried', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    let calls = 0;
    answerWith(() => (++calls <= 2 ? new Response('busy', { status: 503 }) : undefined));
    const { siteId, tracker } = start();
    tracker.track('click');
    await vi.advanceTimersByTimeAsync(20);
    expect(info.mock.calls).toEqual([['[tally]', 'send failed, retry in', 1000, 'ms']]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(info.mock.calls.at(-1)).toEqual(['[tally]', 'send failed, retry in', 2000, 'ms']);
    await vi.advanceTimersByTimeAsync(2000);
    expect(eventsOf(siteId)).toHaveLength(3); // the third try was taken
    expect(info).toHaveBeenCalledTimes(2);
  });

  test('a sent event logs nothing, and without debug nothing is logged at all', async () => {
    const sent = start();
    sent.tracker.track('click');
    await sent.tracker.flush();
    expect(eventsOf(sent.siteId)).toHaveLength(1);

    const warn = vi.spyOn(console, 'warn');
    const log = vi.spyOn(console, 'log');
    setNavigator('doNotTrack', '1');
    const quiet = start({ debug: undefined, beforeSend: () => null });
    quiet.tracker.track('click');
    answerWith(() => new Response('busy', { status: 503 }));
    setNavigator('doNotTrack', 'unspecified');
    const failing = start({ debug: false });
    failing.tracker.track('click');
    await failing.tracker.flush();
    expect(info).not.toHaveBeenCalled();
    expect(warn).not.toHaveBeenCalled();
    expect(log).not.toHaveBeenCalled();
  });
});
