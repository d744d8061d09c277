/**
 * The union of many visitor sketches (`sketches.ts` wire format) and visitor
 * ids, built for the query path: a breakdown over a year merges tens of
 * thousands of per-day sketches, so this reads their bytes with plain number
 * arithmetic (no BigInt per hash) into one register array, and keeps the exact
 * set of hashes only while it stays below `SPARSE_LIMIT`, as a sketch would.
 */
import { hashVisitor, PRECISION, SPARSE_LIMIT, VisitorSketch } from './sketches.js';

const REGISTERS = 1 << PRECISION;
const SPARSE = 1;
const DENSE = 2;
/** Bits of the hash's high word below the register index. */
const LOW_BITS_OF_HIGH = 32 - PRECISION;
const LOW_MASK = (1 << LOW_BITS_OF_HIGH) - 1;

export class VisitorUnion {
  /** The registers, made only once the union leaves its exact set (most unions of a breakdown stay small). */
  #registers: Uint8Array | undefined;
  /**
   * The hashes while there are few (`undefined` once past `SPARSE_LIMIT`):
   * keyed by their top 53 bits (two of 3,000 visitors share them with odds
   * below 10⁻⁹), each holding its low word.
   */
  #exact: Map<number, number> | undefined = new Map();

  /** Adds one visitor by id. */
  addVisitor(visitorId: string): void {
    const hash = hashVisitor(visitorId);
    this.#addHash(Number(hash >> 32n), Number(hash & 0xffffffffn));
  }

  /** Adds a visitor by its hash (`hashVisitor`) as two 32-bit words, high first: for callers that keep them. */
  addHashWords(high: number, low: number): void {
    this.#addHash(high, low);
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
      const hashes = [...this.#exact].map(([key, low]) => [Math.floor(key / 2 ** 21), low] as const);
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
      for (const [key, low] of exact ?? []) this.#setRegister(Math.floor(key / 2 ** 21), low);
    }
    return this.#registers;
  }

  #addHash(high: number, low: number): void {
    if (this.#exact) {
      this.#exact.set(high * 2 ** 21 + (low >>> 11), low);
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
