/**
 * A reader for the hot paths' fast parsers (transactions, block messages): it
 * accepts only minimally encoded DAG-CBOR heads and throws MISMATCH on
 * anything else, so the caller hands the bytes to the generic decoder instead.
 */

/** A text string's encoding (for its length under 24), to match map keys byte for byte. */
export const text = (s: string): Uint8Array => Uint8Array.from([0x60 + s.length, ...Buffer.from(s)])

/** Thrown inside the parser only: the bytes are not in the layout it accepts. */
export const MISMATCH = new Error('not the canonical layout')

export class CborReader {
  readonly bytes: Uint8Array
  pos = 0

  constructor (bytes: Uint8Array) {
    // Fields are views of the input; plain ones even when it is a Buffer, as the generic decoder's are.
    this.bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  expect (want: Uint8Array): void {
    const { bytes } = this
    if (this.pos + want.length > bytes.length) throw MISMATCH
    for (let i = 0; i < want.length; i++) if (bytes[this.pos + i] !== want[i]) throw MISMATCH
    this.pos += want.length
  }

  take (length: number): Uint8Array {
    if (this.pos + length > this.bytes.length) throw MISMATCH
    const out = this.bytes.subarray(this.pos, this.pos + length)
    this.pos += length
    return out
  }

  /** A minimally encoded head of the given major type; returns its argument. */
  head (major: number): bigint | number {
    if (this.pos >= this.bytes.length) throw MISMATCH
    const first = this.bytes[this.pos++]
    if (first >> 5 !== major) throw MISMATCH
    const info = first & 31
    if (info < 24) return info
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0
    if (size === 0) throw MISMATCH
    const { bytes } = this
    const end = this.pos + size
    if (end > bytes.length) throw MISMATCH
    let value: number | bigint
    if (size < 8) {
      let n = 0
      for (let i = this.pos; i < end; i++) n = n * 256 + bytes[i]
      value = n
    } else {
      const view = new DataView(bytes.buffer, bytes.byteOffset + this.pos, 8)
      const n = view.getBigUint64(0)
      value = n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n
    }
    this.pos = end
    // Canonical: no shorter head could hold the value.
    if (value < (size === 1 ? 24 : 2 ** (4 * size))) throw MISMATCH
    return value
  }

  /** An unsigned integer up to `max`. */
  uint (max: number): number {
    const v = this.head(0)
    if (typeof v !== 'number' || v > max) throw MISMATCH
    return v
  }

  /** The length of a string, list or map (by major type) up to `max`. */
  length (major: number, max: number): number {
    const v = this.head(major)
    if (typeof v !== 'number' || v > max) throw MISMATCH
    return v
  }
}
