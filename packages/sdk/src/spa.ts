/**
 * Noticing client-side navigation: the History API has no event for
 * `pushState`/`replaceState`, so both are wrapped; `popstate` covers back and
 * forward, `hashchange` hash routers when asked for.
 */

/**
 * Calls `onNavigate` after every history change (and hash change when `hash`).
 * The callback decides whether the URL really changed.
 *
 * @example
 * watchNavigation(() => console.log(location.pathname), false);
 */
export const watchNavigation = (onNavigate: () => void, hash?: boolean): void => {
  for (const method of ['pushState', 'replaceState'] as const) {
    const original = history[method];
    history[method] = function (this: History, ...args: Parameters<History['pushState']>) {
      const result = original.apply(this, args);
      onNavigate();
      return result;
    };
  }
  addEventListener('popstate', onNavigate);
  if (hash) addEventListener('hashchange', onNavigate);
};
