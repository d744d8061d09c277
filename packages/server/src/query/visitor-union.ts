/**
 * The union of many visitor sketches (`sketches.ts` wire format) and visitor
 * ids, built for the query path: a breakdown over a year merges tens of
 * thousands of per-day sketches, so this reads their bytes with plain number
 * arithmetic (no BigInt per hash) into one register array, and keeps the exact
 * set of hashes only while it stays below `SPARSE_LIMIT`, as a sketch would.
 * Neither allocates per visitor: the exact set is one flat table of 32-bit
 * words, so merging a year of sparse sketches leaves no garbage behind but a
 * few arrays (a `Map` of 64-bit keys made a heap number per hash, and the
 * collector's pauses showed in the answer times of other requests).
 */
import { hashVisitor, PRECISION, SPARSE_LIMIT, VisitorSketch } from './sketches.js';

const REGISTERS = 1 << PRECISION;
const SPARSE = 1;
const DENSE = 2;
/** Bits of the hash's high word below the register index. */
const LOW_BITS_OF_HIGH = 32 - PRECISION;
const LOW_MASK = (1 << LOW_BITS_OF_HIGH) - 1;

/**
 * A set of 64-bit hashes as (high, low) word pairs in one `Uint32Array`, open
 * addressing with linear probing, at most half full. An empty slot is (0, 0);
 * the hash (0, 0) itself is kept aside.
 */
class HashSet64 {
  #slots = new Uint32Array(2 * 64);
  #used = 0;
  #zero = false;

  get size(): number {
    return this.#used + (this.#zero ? 1 : 0);
  }

  add(high: number, low: number): void {
    if (high === 0 && low === 0) {
      this.#zero = true;
      return;
    }
    if (2 * (this.#used + 1) > this.#slots.length / 2) this.#grow();
    this.#insert(high, low);
  }

  /** Calls `each` with every hash, in no order. */
  forEach(each: (high: number, low: number) => void): void {
    if (this.#zero) each(0, 0);
    const slots = this.#slots;
    for (let i = 0; i < slots.length; i += 2) {
      const high = slots[i] as number;
      const low = slots[i + 1] as number;
      if (high !== 0 || low !== 0) each(high, low);
    }
  }

  #insert(high: number, low: number): void {
    const slots = this.#slots;
    const mask = slots.length / 2 - 1;
    // The words are a murmur hash's: any of their bits are as good as any other.
    for (let i = low & mask; ; i = (i + 1) & mask) {
      const h = slots[2 * i] as number;
      const l = slots[2 * i + 1] as number;
      if (h === 0 && l === 0) {
        slots[2 * i] = high;
        slots[2 * i + 1] = low;
        this.#used += 1;
        return;
      }
      if (h === high && l === low) return;
    }
  }

  #grow(): void {
    const old = this.#slots;
    this.#slots = new Uint32Array(old.length * 2);
    this.#used = 0;
    for (let i = 0; i < old.length; i += 2) {
      const high = old[i] as number;
      const low = old[i + 1] as number;
      if (high !== 0 || low !== 0) this.#insert(high, low);
    }
  }
}

export class VisitorUnion {
  /** The registers, made only once the union leaves its exact set (most unions of a breakdown stay small). */
  #registers: Uint8Array | undefined;
  /** The hashes while there are few (`undefined` once past `SPARSE_LIMIT`). */
  #exact: HashSet64 | undefined = new HashSet64();

  /** Adds one visitor by id. */
  addVisitor(visitorId: string): void {
    const hash = hashVisitor(visitorId);
    this.#addHash(Number(hash >> 32n), Number(hash & 0xffffffffn));
  }

  /** Adds a visitor by its hash (`hashVisitor`) as two 32-bit words, high first: for callers that keep them. */
  addHashWords(high: number, low: number): void {
    this.#addHash(high >>> 0, low >>> 0);
  }

  /** Adds every visitor of a serialized sketch. */
  addSketch(bytes: Uint8Array): void {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (buffer[0] === SPARSE && (buffer.length - 1) % 8 === 0) {
      for (let offset = 1; offset < buffer.length; offset += 8) {
        this.#addHash(buffer.readUInt32BE(offset), buffer.readUInt32BE(offset + 4));
      }
      return;
    }
    if (buffer[0] === DENSE && buffer.length === 1 + REGISTERS) {
      const registers = this.#densify();
      for (let i = 0; i < REGISTERS; i++) {
        const value = buffer[1 + i] as number;
        if (value > (registers[i] as number)) registers[i] = value;
      }
      return;
    }
    throw new Error('not a visitor sketch');
  }

  /** Whether the count is exact (every visitor's hash kept). */
  get exact(): boolean {
    return this.#exact !== undefined;
  }

  estimate(): number {
    if (this.#exact) return this.#exact.size;
    return VisitorSketch.deserialize(this.serialize()).estimate();
  }

  /** The union as a stored sketch (`sketches.ts` format): the sorted hashes while exact, else the registers. */
  serialize(): Buffer {
    if (this.#exact) {
      const hashes: (readonly [number, number])[] = [];
      this.#exact.forEach((high, low) => {
        hashes.push([high, low]);
      });
      hashes.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      const buffer = Buffer.alloc(1 + 8 * hashes.length);
      buffer[0] = SPARSE;
      for (const [i, [high, low]] of hashes.entries()) {
        buffer.writeUInt32BE(high, 1 + 8 * i);
        buffer.writeUInt32BE(low, 5 + 8 * i);
      }
      return buffer;
    }
    const buffer = Buffer.alloc(1 + REGISTERS);
    buffer[0] = DENSE;
    buffer.set(this.#densify(), 1);
    return buffer;
  }

  /** Leaves the exact set: its hashes go into registers, which every later hash updates. */
  #densify(): Uint8Array {
    if (this.#registers === undefined) {
      this.#registers = new Uint8Array(REGISTERS);
      const exact = this.#exact;
      this.#exact = undefined;
      exact?.forEach((high, low) => {
        this.#setRegister(high, low);
      });
    }
    return this.#registers;
  }

  #addHash(high: number, low: number): void {
    if (this.#exact) {
      this.#exact.add(high, low);
      if (this.#exact.size > SPARSE_LIMIT) this.#densify();
      return;
    }
    this.#setRegister(high, low);
  }

  #setRegister(high: number, low: number): void {
    const registers = this.#registers as Uint8Array;
    const index = high >>> LOW_BITS_OF_HIGH;
    const rest = high & LOW_MASK;
    // The rank: leading zeros of the 50 bits after the index, plus one (51 when all are zero).
    const rank =
      rest !== 0 ? Math.clz32(rest) - PRECISION + 1 : low !== 0 ? LOW_BITS_OF_HIGH + Math.clz32(low) + 1 : 51;
    if (rank > (registers[index] as number)) registers[index] = rank;
  }
}

/** The union kept in `unions` under `key`, made empty the first time the key is asked for. */
export function unionIn(unions: Map<string, VisitorUnion>, key: string): VisitorUnion {
  let union = unions.get(key);
  if (union === undefined) {
    union = new VisitorUnion();
    unions.set(key, union);
  }
  return union;
}
