/**
 * The wire contract: what the SDK sends must parse under the server's own
 * schemas from @tally/shared. The collector parses every request of every SDK
 * test file; this file drives the edge cases and proves the check can fail.
 */
import type { EventInput } from '@tally/shared';
import { batchSchema, eventSchema } from '@tally/shared';
import { beforeEach, describe, expect, expectTypeOf, test } from 'vitest';
import { contractErrors, eventsOf, requestsOf } from '../test/collector.js';
import { createTracker, type TallyEvent } from './tracker.js';

beforeEach(() => {
  localStorage.clear();
  history.replaceState(null, '', '/');
});

describe('contract with the server schemas', () => {
  test('the SDK event type is assignable to the schema input type', () => {
    expectTypeOf<TallyEvent>().toExtend<EventInput>();
  });

  test('events at the edges (long URLs and utm values, referrer, user, props at their limits, hash paths) parse', async () => {
    Object.defineProperty(document, 'referrer', {
      value: `https://ref.example.net/${'r'.repeat(3000)}`,
      configurable: true,
    });
    const utm =
      `utm_source=${'s'.repeat(300)}&utm_medium=%00&utm_campaign=x${'%F0%9F%98%80'.repeat(200)}` +
      `&utm_term=a%00b&utm_content=${encodeURIComponent('\u00e9t\u00e9 \u{1F31E}')}`;
    history.replaceState(null, '', `/${'p'.repeat(3000)}?q=1&${utm}#h`);
    const props = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`key_${i}`, i % 2 ? 'v'.repeat(500) : i]));
    const tracker = createTracker({
      siteId: 'contract.site:A-1_b',
      api: 'https://example.com',
      excludeWebdriver: false,
      hash: true,
      flushInterval: 60_000,
    });
    tracker.identify('u'.repeat(256));
    tracker.track('e'.repeat(64), props);
    tracker.track('flag', { on: true, off: false, zero: 0, negative: -1.5 });
    history.pushState(null, '', '/next#section');
    await tracker.flush();
    Object.defineProperty(document, 'referrer', { value: '', configurable: true });

    const events = eventsOf('contract.site:A-1_b');
    expect(events.map((e) => e.eventType)).toEqual(['page_view', 'e'.repeat(64), 'flag', 'page_view']);
    expect(events[0]?.path).toHaveLength(2048);
    expect(events[0]?.path).not.toContain('?');
    expect(events[0]?.referrer).toHaveLength(2048);
    expect(events[0]).toMatchObject({
      utmSource: 's'.repeat(256),
      utmTerm: 'ab',
      utmContent: '\u00e9t\u00e9 \u{1F31E}',
    });
    expect(events[0]?.utmMedium).toBeUndefined(); // only a NUL: nothing left to send
    // 1 + 127 emoji + half of the next one, cut back to a whole character
    expect(events[0]?.utmCampaign).toBe(`x${'\u{1F600}'.repeat(127)}`);
    expect(events[0]).toMatchObject({ language: navigator.language, screenWidth: screen.width });
    expect(events[3]?.path).toBe('/next#section');
    for (const request of requestsOf('contract.site:A-1_b')) {
      expect(batchSchema.safeParse({ events: request.events }).success).toBe(true);
      for (const event of request.events) expect(eventSchema.safeParse(event).error).toBeUndefined();
    }
    expect(contractErrors).toEqual([]);
  });

  test('the check catches a payload the server would refuse (control)', async () => {
    const tracker = createTracker({
      siteId: 'contract_control',
      api: 'https://example.com',
      excludeWebdriver: false,
      autoPageviews: false,
      beforeSend: (event) => ({ ...event, sessionId: 'not in the schema' }) as TallyEvent,
    });
    tracker.track('x');
    await tracker.flush();
    expect(contractErrors.join()).toContain('sessionId');
    contractErrors.length = 0; // expected here; the collector fails any other test that leaves one
  });
});
