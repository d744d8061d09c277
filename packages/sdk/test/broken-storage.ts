/** A localStorage whose every call throws, as in a sandboxed iframe or with storage blocked. */
export const brokenStorage = {
  getItem(): never {
    throw new DOMException('denied', 'SecurityError');
  },
  setItem(): never {
    throw new DOMException('full', 'QuotaExceededError');
  },
  removeItem(): never {
    throw new DOMException('denied', 'SecurityError');
  },
};
