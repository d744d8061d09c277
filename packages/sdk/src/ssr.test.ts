// @vitest-environment node
/** Server-side rendering: no window, no document, no localStorage. Importing and calling must do nothing. */
import { expect, test, vi } from 'vitest';

test('importing and calling the SDK without a window does nothing and throws nothing', async () => {
  expect(typeof window).toBe('undefined');
  const fetchSpy = vi.spyOn(globalThis, 'fetch');
  const sdk = await import('./index.js');
  const tracker = sdk.init({ siteId: 'ssr', api: 'https://example.com' });
  expect(() => {
    sdk.track('render', { a: 1 });
    sdk.pageview();
    sdk.identify('u');
    sdk.optOut();
    sdk.optIn();
    tracker.track('x');
  }).not.toThrow();
  await expect(sdk.flush()).resolves.toBeUndefined();
  await expect(sdk.createTracker({ siteId: 'ssr' }).flush()).resolves.toBeUndefined();
  expect(fetchSpy).not.toHaveBeenCalled();
});
