/**
 * localStorage as the tracker uses it: JSON in and out, and never an error —
 * storage may be disabled, full, or throw on access (Safari private mode,
 * sandboxed iframes), and the tracker must carry on in memory then.
 */

/** Reads and parses `key`; `undefined` when absent, unreadable or not JSON. */
export const load = (key: string): unknown => {
  try {
    return JSON.parse(localStorage.getItem(key) as string) ?? undefined;
  } catch {}
};

/** Stores `value` as JSON under `key`, or removes the key when `value` is `undefined`. */
export const save = (key: string, value?: unknown): void => {
  try {
    value === undefined ? localStorage.removeItem(key) : localStorage.setItem(key, JSON.stringify(value));
  } catch {}
};
