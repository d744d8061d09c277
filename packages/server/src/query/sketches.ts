/**
 * Mergeable visitor sketches (SPEC §12): HyperLogLog with precision 14 (16,384
 * one-byte registers, standard error 0.81%), exact below `SPARSE_LIMIT`
 * visitors, where a sketch is the sorted list of the visitors' 64-bit hashes.
 * The estimate is Ertl's improved estimator ("New cardinality estimation
 * algorithms for HyperLogLog sketches", 2017), which needs no empirical bias
 * tables and is unbiased from a few thousand to billions.
 *
 * Wire format (`bytea`): byte 0 is the kind — 1 sparse: then 8-byte big-endian
 * hashes, sorted, unique; 2 dense: then 16,384 register bytes.
 */

export const PRECISION = 14;
const REGISTERS = 1 << PRECISION;
/** Bits of the hash left for the rank once the register index is taken. */
const RANK_BITS = 64 - PRECISION;
/** Up to this many distinct visitors a sketch is an exact list (8 bytes each). */
export const SPARSE_LIMIT = 3_000;

const SPARSE = 1;
const DENSE = 2;

function murmur32(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    let k = text.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= text.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A visitor's 64-bit hash. */
export function hashVisitor(visitorId: string): bigint {
  return (BigInt(murmur32(visitorId, 0x9747b28c)) << 32n) | BigInt(murmur32(visitorId, 0x5bd1e995));
}

function registerOf(hash: bigint): { index: number; rank: number } {
  const index = Number(hash >> BigInt(RANK_BITS));
  const rest = hash & ((1n << BigInt(RANK_BITS)) - 1n);
  // Rank: leading zeros of the remaining bits, plus one (RANK_BITS + 1 when all are zero).
  const rank = rest === 0n ? RANK_BITS + 1 : RANK_BITS - rest.toString(2).length + 1;
  return { index, rank };
}

export class VisitorSketch {
  #hashes: Set<bigint> | undefined = new Set();
  #registers: Uint8Array | undefined;

  /** Adds a visitor by id. */
  add(visitorId: string): this {
    return this.addHash(hashVisitor(visitorId));
  }

  addHash(hash: bigint): this {
    if (this.#hashes) {
      this.#hashes.add(hash);
      if (this.#hashes.size > SPARSE_LIMIT) this.#densify();
    } else this.#setRegister(hash);
    return this;
  }

  /** Adds every visitor of `other` (this changes; `other` does not). */
  merge(other: VisitorSketch): this {
    if (other.#hashes) {
      for (const hash of other.#hashes) this.addHash(hash);
      return this;
    }
    if (this.#hashes) this.#densify();
    const mine = this.#registers as Uint8Array;
    const theirs = other.#registers as Uint8Array;
    for (let i = 0; i < REGISTERS; i++) if ((theirs[i] as number) > (mine[i] as number)) mine[i] = theirs[i] as number;
    return this;
  }

  /** Whether the count is exact (a list of hashes, not registers). */
  get exact(): boolean {
    return this.#hashes !== undefined;
  }

  estimate(): number {
    if (this.#hashes) return this.#hashes.size;
    return Math.round(ertlEstimate(this.#registers as Uint8Array));
  }

  serialize(): Buffer {
    if (this.#hashes) {
      const sorted = [...this.#hashes].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const buffer = Buffer.alloc(1 + 8 * sorted.length);
      buffer[0] = SPARSE;
      for (const [i, hash] of sorted.entries()) buffer.writeBigUInt64BE(hash, 1 + 8 * i);
      return buffer;
    }
    const buffer = Buffer.alloc(1 + REGISTERS);
    buffer[0] = DENSE;
    buffer.set(this.#registers as Uint8Array, 1);
    return buffer;
  }

  static deserialize(bytes: Uint8Array): VisitorSketch {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const sketch = new VisitorSketch();
    if (buffer[0] === SPARSE && (buffer.length - 1) % 8 === 0) {
      for (let offset = 1; offset < buffer.length; offset += 8) sketch.addHash(buffer.readBigUInt64BE(offset));
      return sketch;
    }
    if (buffer[0] === DENSE && buffer.length === 1 + REGISTERS) {
      sketch.#hashes = undefined;
      sketch.#registers = Uint8Array.from(buffer.subarray(1));
      return sketch;
    }
    throw new Error('not a visitor sketch');
  }

  #densify() {
    const hashes = this.#hashes ?? new Set<bigint>();
    this.#hashes = undefined;
    this.#registers = new Uint8Array(REGISTERS);
    for (const hash of hashes) this.#setRegister(hash);
  }

  #setRegister(hash: bigint) {
    const { index, rank } = registerOf(hash);
    const registers = this.#registers as Uint8Array;
    if (rank > (registers[index] as number)) registers[index] = rank;
  }
}

/** Merges serialized sketches; the estimate of their union. */
export function mergeSketches(sketches: Iterable<Uint8Array>): VisitorSketch {
  const union = new VisitorSketch();
  for (const bytes of sketches) union.merge(VisitorSketch.deserialize(bytes));
  return union;
}

function sigma(x: number): number {
  if (x === 1) return Number.POSITIVE_INFINITY;
  let y = 1;
  let z = x;
  for (;;) {
    x *= x;
    const previous = z;
    z += x * y;
    y += y;
    if (z === previous) return z;
  }
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  for (;;) {
    x = Math.sqrt(x);
    const previous = z;
    y *= 0.5;
    z -= (1 - x) ** 2 * y;
    if (z === previous) return z / 3;
  }
}

function ertlEstimate(registers: Uint8Array): number {
  const q = RANK_BITS;
  const counts = new Array<number>(q + 2).fill(0);
  for (const value of registers) counts[value] = (counts[value] as number) + 1;
  const m = REGISTERS;
  let z = m * tau((m - (counts[q + 1] as number)) / m);
  for (let k = q; k >= 1; k--) z = 0.5 * (z + (counts[k] as number));
  z += m * sigma((counts[0] as number) / m);
  return (m * m) / (2 * Math.LN2 * z);
}
