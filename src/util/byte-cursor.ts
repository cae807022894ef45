/**
 * A cursor over a range of bytes reading LEB128 varints (protobuf's and
 * LevelDB's) and slices, for parsers of formats we read ourselves. Each parser
 * gives the error its own callers expect: `fail` makes it from what went wrong.
 */
export class ByteCursor {
  readonly bytes: Uint8Array
  pos: number
  readonly end: number
  readonly fail: (what: string) => Error

  constructor (bytes: Uint8Array, fail: (what: string) => Error, pos = 0, end = bytes.length) {
    this.bytes = bytes
    this.fail = fail
    this.pos = pos
    this.end = end
  }

  get done (): boolean { return this.pos >= this.end }

  /** Up to 10 bytes (64 bits); a value past 2^53 reads as Number.MAX_SAFE_INTEGER, never as an inexact number. */
  varint (): number {
    let value = 0
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= this.end) throw this.fail('a varint runs past the end')
      const byte = this.bytes[this.pos++]
      value += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) return Math.min(value, Number.MAX_SAFE_INTEGER)
    }
    throw this.fail('a varint longer than 10 bytes')
  }

  /** The next `length` bytes (by default as many as a varint before them says), a view into the range. */
  slice (length = this.varint()): Uint8Array {
    if (length > this.end - this.pos) throw this.fail('a slice runs past the end')
    const s = this.bytes.subarray(this.pos, this.pos + length)
    this.pos += length
    return s
  }
}
