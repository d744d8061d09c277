/**
 * When the tracker must stay silent: the visitor opted out, the browser asks
 * not to be tracked (Do Not Track, Global Privacy Control), the page is a
 * local development copy, or a robot drives the browser. Each but the opt-out
 * can be turned off by an option.
 */
import { load } from './storage.js';

/** localStorage key whose presence means the visitor opted out on this origin. */
export const OPT_OUT_KEY = 'tally_optout';

export interface PrivacyOptions {
  /** Honour Do Not Track and Global Privacy Control. Default `true`. */
  respectDnt?: boolean;
  /** Skip `localhost`, `127.*`, `[::1]` and `file:` pages. Default `true`. */
  excludeLocalhost?: boolean;
  /** Skip browsers driven by automation (`navigator.webdriver`). Default `true`. */
  excludeWebdriver?: boolean;
}

/**
 * Why nothing may be tracked right now, as the `debug` option logs it (terse,
 * for the size budget: `optOut`, `DNT`, `GPC`, `localhost`, `webdriver`);
 * `undefined` when tracking may go ahead.
 *
 * @example
 * const reason = blockedBy({ excludeLocalhost: false }); // e.g. 'DNT'
 */
export const blockedBy = (options: PrivacyOptions): string | undefined => {
  const nav = navigator as Navigator & { globalPrivacyControl?: boolean };
  const dnt = options.respectDnt !== false;
  return load(OPT_OUT_KEY)
    ? 'optOut'
    : dnt && (nav.doNotTrack === '1' || (window as { doNotTrack?: string }).doNotTrack === '1')
      ? 'DNT'
      : dnt && nav.globalPrivacyControl
        ? 'GPC'
        : options.excludeLocalhost !== false && /^(localhost|127\.|\[::1\]|$)/.test(location.hostname)
          ? 'localhost'
          : options.excludeWebdriver !== false && nav.webdriver
            ? 'webdriver'
            : undefined;
};
