/**
 * The tracker core both entries share (`index.ts` for npm, `script.ts` for the
 * script tag): it makes events (with the page's `utm_*` values, language and
 * screen width, SPEC §10), keeps them in a bounded queue mirrored to
 * localStorage, sends them in batches by size and time, retries with backoff,
 * and hands what is left to `sendBeacon` when the page hides. Every public
 * function is wrapped so that nothing it does can throw into the host page.
 * With `debug`, it says in the console why an event was not sent; the words
 * are terse because every byte of the script tag counts.
 */
import { blockedBy, OPT_OUT_KEY, type PrivacyOptions } from './privacy.js';
import { toBatches } from './queue.js';
import { watchNavigation } from './spa.js';
import { load, save } from './storage.js';
import { beaconBatch, postBatch } from './transport.js';

/** Custom properties of an event: at most 30 keys; strings of at most 500 characters. */
export type Props = Record<string, string | number | boolean>;

/** An event as the tracker sends it; it parses under the server's `eventSchema`. */
export interface TallyEvent {
  siteId: string;
  eventType: string;
  /** `location.pathname`, plus `location.hash` with the `hash` option. The query string is never sent. */
  path: string;
  /** ISO 8601, UTC. */
  timestamp: string;
  /** Made here, kept through every retry: the server counts an event once whatever the resends. */
  eventId: string;
  /** First-party id kept in localStorage. */
  visitorId: string;
  userId?: string;
  referrer?: string;
  props?: Props;
  /** The page URL's `utm_source` … `utm_content`, when present: the only part of the query string sent. */
  utmSource?: string;
  utmMedium?: string;
  utmCampaign?: string;
  utmTerm?: string;
  utmContent?: string;
  /** `navigator.language`, e.g. `en-US`. */
  language?: string;
  /** `screen.width` in CSS pixels. */
  screenWidth?: number;
}

export interface TallyOptions extends PrivacyOptions {
  /** The site the events belong to (1–128 of `A-Za-z0-9_.:-`). Required. */
  siteId: string;
  /**
   * Where the Tally server is: a base URL (`https://stats.example.com`) or a path on the page's own
   * origin (`/_t`, for a server mounted first-party). Events go to `${api}/api/events`.
   * Default: the page's own origin.
   */
  api?: string;
  /** Send a `page_view` on load and when the page comes back from the back/forward cache. Default `true`. */
  autoPageviews?: boolean;
  /** Also send one on `pushState`, `replaceState` and `popstate` when the path changes. Default `true`. */
  spa?: boolean;
  /** Count the `#hash` as part of the path (hash routers). Default `false`. */
  hash?: boolean;
  /** Send as soon as this many events wait. Default `10`. */
  batchSize?: number;
  /** Otherwise send this many milliseconds after the first waiting event. Default `2000`. */
  flushInterval?: number;
  /** Most unsent events kept (in memory and localStorage); the oldest go first. Default `200`. */
  maxQueue?: number;
  /** Sees every event before it is queued: return it (edited or not) to send it, or `null`/`false` to drop it. */
  beforeSend?: (event: TallyEvent) => TallyEvent | null | false | undefined;
  /** Log to the console (`[tally] …`) why an event was not sent, and failed sends. Default `false`. */
  debug?: boolean;
}

/** One tracker, as `createTracker` returns it. */
export interface Tracker {
  /**
   * Sends a custom event.
   * @example tracker.track('signup', { plan: 'pro' });
   */
  track(eventType: string, props?: Props): void;
  /**
   * Sends a `page_view` for the current URL.
   * @example tracker.pageview();
   */
  pageview(props?: Props): void;
  /**
   * Attaches `userId` to the events that follow; `null` forgets it.
   * @example tracker.identify('user_42');
   */
  identify(userId: string | null | undefined): void;
  /**
   * Sends what waits now; resolves when the request is done (it never rejects).
   * @example await tracker.flush();
   */
  flush(): Promise<void>;
  /**
   * Stops all tracking on this origin, persistently, and drops what waits.
   * @example tracker.optOut();
   */
  optOut(): void;
  /**
   * Undoes `optOut`.
   * @example tracker.optIn();
   */
  optIn(): void;
}

const VISITOR_KEY = 'tally_vid';
const UUID = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/i;
const resolved = (): Promise<void> => Promise.resolve();

/** A random (version 4) UUID; `crypto.randomUUID` exists only on https pages, `getRandomValues` everywhere. */
export const uuid = (): string =>
  '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) =>
    (+c ^ ((crypto.getRandomValues(new Uint8Array(1))[0] as number) & (15 >> (+c / 4)))).toString(16),
  );

/** Wraps `fn` so that it can never throw into the caller. */
const safe =
  <A extends unknown[], R>(fn: (...args: A) => R) =>
  (...args: A): R | undefined => {
    try {
      return fn(...args);
    } catch {}
  };

/** What `createTracker` returns where there is no browser (SSR) or no site id. */
export const noopTracker: Tracker = {
  track() {},
  pageview() {},
  identify() {},
  flush: resolved,
  optOut() {},
  optIn() {},
};

/**
 * Creates a tracker. Use it directly for more than one tracker on a page;
 * otherwise `init` keeps one for you. Where there is no `window` (server-side
 * rendering) or no `siteId` it returns a tracker that does nothing.
 *
 * @example
 * import { createTracker } from '@tally/sdk';
 * const shop = createTracker({ siteId: 'shop', api: 'https://stats.example.com' });
 * shop.track('add_to_cart', { sku: 'A-1', price: 12.5 });
 */
export const createTracker = (options: TallyOptions): Tracker =>
  (typeof window !== 'undefined' && options.siteId && safe(startTracker)(options)) || noopTracker;

/**
 * The tracker itself, for a browser and a site id (`createTracker` checks both;
 * the script tag, which always has a browser, calls this directly and so ships
 * no do-nothing tracker). It may throw while starting, e.g. on an `api` that is no URL.
 *
 * @example
 * const tracker = startTracker({ siteId: 'my_site', api: '/_t' });
 */
export const startTracker = (options: TallyOptions): Tracker => {
  const queueKey = `tally_q:${options.siteId}`;
  // A path (`/_t`) resolves against the page's origin, a full URL stays as it is.
  const url = new URL(`${(options.api ?? '').replace(/\/+$/, '')}/api/events`, location.href).href;
  const log = (...args: unknown[]) => options.debug && console.info('[tally]', ...args);
  const stored = load(queueKey);
  let queue: TallyEvent[] = Array.isArray(stored) ? stored : [];
  let userId: string | null | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight: Promise<void> | undefined;
  let failures = 0;
  let lastPath: string | undefined;
  let referrer = document.referrer;

  const persist = () => {
    queue = queue.slice(-(options.maxQueue ?? 200));
    save(queueKey, queue.length ? queue : undefined);
  };
  const sent = (batch: TallyEvent[]) => {
    queue = queue.filter((event) => !batch.includes(event));
    persist();
  };
  const visitorId = () => {
    let id = load(VISITOR_KEY) as string;
    if (!UUID.test(id)) {
      id = uuid();
      save(VISITOR_KEY, id);
    }
    return id;
  };
  const currentPath = () => (location.pathname + (options.hash ? location.hash : '')).slice(0, 2048);

  const flush = (pageHiding?: boolean): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    // Offline: keep everything; the `online` event brings it back here.
    if (!queue.length || navigator.onLine === false) return resolved();
    if (pageHiding) {
      for (const batch of toBatches(queue)) {
        // After a failed send the network is suspect: a beacon only says "queued", so keep a copy
        // for the next page load; the eventId makes that resend harmless.
        if (beaconBatch(url, batch)) failures || sent(batch);
        else postBatch(url, batch).then((ok) => ok && sent(batch));
      }
      return resolved();
    }
    if (inFlight) return inFlight;
    const batch = toBatches(queue)[0] as TallyEvent[];
    inFlight = postBatch(url, batch).then((ok) => {
      inFlight = undefined;
      if (ok) {
        failures = 0;
        sent(batch);
        return queue.length ? flush() : undefined;
      }
      const delay = Math.min(1000 * 2 ** failures++, 60_000);
      log('send failed, retry in', delay, 'ms');
      timer = setTimeout(flush, delay);
    });
    return inFlight;
  };

  const send = (eventType: string, props?: Props, pageReferrer?: string) => {
    const blocked = blockedBy(options);
    if (blocked) return log(eventType, 'not sent:', blocked);
    const event: TallyEvent = {
      siteId: options.siteId,
      eventType,
      path: currentPath(),
      timestamp: new Date().toISOString(),
      eventId: uuid(),
      visitorId: visitorId(),
      language: navigator.language,
      screenWidth: screen.width,
    };
    const query = new URLSearchParams(location.search);
    for (const name of ['Source', 'Medium', 'Campaign', 'Term', 'Content'] as const) {
      // Decoded values may hold what the server refuses (and with it the event): a NUL (`%00`),
      // or half an emoji where the cut to 256 characters falls.
      const value = query
        .get(`utm_${name.toLowerCase()}`)
        ?.slice(0, 256)
        .replace(/\0|[\uD800-\uDBFF]$/g, '');
      if (value) event[`utm${name}`] = value;
    }
    if (userId) event.userId = userId;
    if (pageReferrer) event.referrer = pageReferrer.slice(0, 2048);
    if (props) event.props = props;
    const kept = options.beforeSend ? options.beforeSend(event) : event;
    if (!kept) return log(eventType, 'not sent:', 'beforeSend');
    queue.push(kept);
    persist();
    // While a retry waits out its backoff, a full batch does not cut it short.
    if (!failures && queue.length >= (options.batchSize ?? 10)) flush();
    else timer ??= setTimeout(flush, options.flushInterval ?? 2000);
  };

  const pageview = (props?: Props) => {
    lastPath = currentPath();
    send('page_view', props, referrer);
    // The next SPA view was reached from this one.
    referrer = location.origin + lastPath;
  };
  const navigated = safe(() => lastPath === currentPath() || pageview());

  const tracker: Tracker = {
    track: safe((eventType: string, props?: Props) => send(eventType, props)),
    pageview: safe(pageview),
    // These three cannot throw (`save` never does), so they need no `safe`.
    identify(id) {
      userId = id;
    },
    flush: () => safe(flush)() ?? resolved(),
    optOut() {
      save(OPT_OUT_KEY, 1);
      queue = [];
      persist();
    },
    optIn: () => save(OPT_OUT_KEY),
  };

  safe(() => {
    document.addEventListener(
      'visibilitychange',
      safe(() => document.visibilityState === 'hidden' && flush(true)),
    );
    addEventListener(
      'pagehide',
      safe(() => flush(true)),
    );
    addEventListener(
      'online',
      safe(() => flush()),
    );
    if (queue.length) flush();
    if (options.autoPageviews !== false) {
      pageview();
      addEventListener(
        'pageshow',
        safe((event: PageTransitionEvent) => {
          if (event.persisted) {
            lastPath = undefined;
            navigated();
          }
        }),
      );
      if (options.spa !== false) watchNavigation(navigated, options.hash);
    }
  })();
  return tracker;
};
