import { beforeEach, describe, expect, test, vi } from 'vitest';
import { eventsOf, requestsOf } from '../test/collector.js';

type Stub = ((...args: unknown[]) => void) & { q?: ArrayLike<unknown>[] };
const win = window as unknown as { tally?: Stub };

/** Loads the IIFE entry as the browser would run `<script src=… data-…>`. */
async function loadScript(src: string, data: Record<string, string>) {
  const script = document.createElement('script');
  script.src = src;
  for (const [key, value] of Object.entries(data)) script.dataset[key] = value;
  // happy-dom's dataset leaves out attributes with an empty value (browsers list them), so a bare
  // `data-debug` gets a plain object in its place; the Chromium test covers the real thing.
  if (Object.values(data).includes('')) Object.defineProperty(script, 'dataset', { value: { ...data } });
  Object.defineProperty(document, 'currentScript', { value: script, configurable: true });
  vi.resetModules();
  await import('./script.js');
  Object.defineProperty(document, 'currentScript', { value: null, configurable: true });
}

beforeEach(() => {
  localStorage.clear();
  delete win.tally;
});

describe('script tag', () => {
  test('reads data-* options, defaults the API to the script origin, and drains the pre-load queue', async () => {
    // What the documented stub does: keep each call's arguments in `tally.q` until tally.js runs.
    const stub: Stub = (...args: unknown[]) => {
      stub.q = [...(stub.q ?? []), args];
    };
    win.tally = stub;
    win.tally('identify', 'user_1');
    win.tally('signup', { plan: 'pro' });

    await loadScript('https://stats.example.com/tally.js', {
      siteId: 'script_tag',
      excludeWebdriver: 'false',
      flushInterval: '20',
    });
    win.tally?.('cta_click', { id: 'hero' });
    win.tally?.('flush');
    await vi.waitFor(() => expect(eventsOf('script_tag')).toHaveLength(3));
    expect(requestsOf('script_tag')[0]?.url).toBe('https://stats.example.com/api/events');
    expect(eventsOf('script_tag').map((e) => [e.eventType, e.userId, e.props])).toEqual([
      ['page_view', undefined, undefined],
      ['signup', 'user_1', { plan: 'pro' }],
      ['cta_click', 'user_1', { id: 'hero' }],
    ]);
  });

  test('data-api overrides the endpoint; "false" attributes switch defaults off', async () => {
    await loadScript('https://cdn.example.org/tally.js', {
      siteId: 'script_api',
      api: 'https://example.com/',
      excludeWebdriver: 'false',
      autoPageviews: 'false',
    });
    win.tally?.('hello');
    win.tally?.('flush');
    await vi.waitFor(() => expect(eventsOf('script_api')).toHaveLength(1));
    expect(requestsOf('script_api')[0]?.url).toBe('https://example.com/api/events');
  });

  test('a data-api path goes to the page origin, not the script origin', async () => {
    await loadScript('https://cdn.example.org/tally.js', {
      siteId: 'script_path',
      api: '/_t',
      excludeWebdriver: 'false',
      autoPageviews: 'false',
    });
    win.tally?.('hello');
    await win.tally?.('flush');
    await vi.waitFor(() => expect(eventsOf('script_path')).toHaveLength(1));
    expect(requestsOf('script_path')[0]?.url).toBe('https://example.com/_t/api/events');
  });

  test.each([
    ['data-debug', '', 1],
    ['data-debug="true"', 'true', 1],
    ['data-debug="false"', 'false', 0],
  ])('%s: the console says why an event was not sent', async (_, debug, lines) => {
    const info = vi.spyOn(console, 'info').mockImplementation(() => {});
    await loadScript('https://stats.example.com/tally.js', { siteId: 'script_debug', debug });
    expect(info.mock.calls).toEqual(lines ? [['[tally]', 'page_view', 'not sent:', 'webdriver']] : []);
    info.mockRestore();
  });

  test('webdriver is skipped by default, and nothing throws without a site id or with bad calls', async () => {
    await loadScript('https://stats.example.com/tally.js', { siteId: 'script_robot' });
    win.tally?.('x');
    await win.tally?.('flush');
    expect(eventsOf('script_robot')).toEqual([]);
    await expect(loadScript('https://stats.example.com/tally.js', {})).resolves.toBeUndefined();
    expect(() => win.tally?.('identify', { not: 'a string' }, 1, 2)).not.toThrow();
  });
});
