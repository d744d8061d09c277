/**
 * The npm entry of `@tally/sdk`: one tracker kept for you (`init`, then
 * `track`, `pageview`, `identify`, `flush`, `optOut`, `optIn`), or as many as
 * you like with `createTracker`. Importing it does nothing by itself, so it is
 * safe in server-side rendering; calls made before `init` are kept and replayed
 * once it runs.
 */
import { createTracker, type Props, type TallyOptions, type Tracker } from './tracker.js';

export type { PrivacyOptions } from './privacy.js';
export type { Props, TallyEvent, TallyOptions, Tracker } from './tracker.js';
export { createTracker };

let current: Tracker | undefined;
/** Calls made before `init`, replayed by it; bounded so that a missing `init` cannot grow it forever. */
const early: [keyof Tracker, unknown[]][] = [];

const call = (method: keyof Tracker, args: unknown[]) => {
  if (current) return (current[method] as (...a: unknown[]) => unknown)(...args);
  if (early.length < 100) early.push([method, args]);
};

/**
 * Starts the shared tracker: sends the first `page_view` (unless
 * `autoPageviews: false`) and follows SPA navigation. Later calls return the
 * tracker the first one made.
 *
 * @example
 * import { init } from '@tally/sdk';
 * init({ siteId: 'my_site', api: 'https://stats.example.com' });
 */
export function init(options: TallyOptions): Tracker {
  if (!current) {
    current = createTracker(options);
    for (const [method, args] of early.splice(0)) call(method, args);
  }
  return current;
}

/**
 * Sends a custom event with optional properties (≤ 30 keys; string, number or boolean values).
 *
 * @example
 * track('signup', { plan: 'pro', seats: 3 });
 */
export function track(eventType: string, props?: Props): void {
  call('track', [eventType, props]);
}

/**
 * Sends a `page_view` for the current URL now. Automatic page views already
 * cover loads and SPA navigation; use this with `autoPageviews: false`.
 *
 * @example
 * pageview({ section: 'docs' });
 */
export function pageview(props?: Props): void {
  call('pageview', [props]);
}

/**
 * Attaches a logged-in user id to the events that follow; `identify(null)` on logout.
 *
 * @example
 * identify('user_42');
 */
export function identify(userId: string | null | undefined): void {
  call('identify', [userId]);
}

/**
 * Sends the waiting events now; resolves once the request is done (it never rejects).
 *
 * @example
 * await flush();
 * location.assign('/checkout');
 */
export function flush(): Promise<void> {
  return current ? current.flush() : Promise.resolve();
}

/**
 * Stops all tracking by Tally on this origin, remembered across visits, and drops unsent events.
 *
 * @example
 * document.querySelector('#no-tracking')?.addEventListener('click', () => optOut());
 */
export function optOut(): void {
  call('optOut', []);
}

/**
 * Undoes `optOut()`.
 *
 * @example
 * optIn();
 */
export function optIn(): void {
  call('optIn', []);
}
