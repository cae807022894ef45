/**
 * Just enough of bitswap's wire form to count a peer's wants before the
 * library keeps them: messages are varint-length-prefixed protobufs
 * (`Message { Wantlist wantlist = 1; … }`, `Wantlist { repeated Entry
 * entries = 1; bool full = 2 }`, `Entry { bytes block = 1; int32 priority = 2;
 * bool cancel = 3; … }`), read here without building them.
 */
import { Uint8ArrayList } from 'uint8arraylist'
import { ByteCursor } from '../util/byte-cursor.ts'
import { BitswapError } from './errors.ts'

export interface WantlistChange {
  /** The message replaces the peer's whole wantlist. */
  full: boolean
  /** CIDs (their bytes, as latin1 keys) wanted, and those cancelled. */
  wants: string[]
  cancels: string[]
}

/** Largest CID a want may name (a sha2-256 CIDv1 takes 36 bytes). */
const MAX_CID_BYTES = 128

/** A protobuf message's cursor: fields are varints and length-delimited ranges. */
class ProtoReader extends ByteCursor {
  constructor (bytes: Uint8Array, pos = 0, end = bytes.length) {
    super(bytes, what => malformed(what), pos, end)
  }

  /** A length-delimited field's bounds. */
  sub (): ProtoReader {
    const length = this.varint()
    if (length > this.end - this.pos) throw malformed('a field runs past its message')
    const sub = new ProtoReader(this.bytes, this.pos, this.pos + length)
    this.pos += length
    return sub
  }

  skip (wireType: number): void {
    if (wireType === 0) this.varint()
    else if (wireType === 2) this.slice()
    else if (wireType === 1 || wireType === 5) this.slice(wireType === 1 ? 8 : 4)
    else throw malformed(`wire type ${wireType}`)
  }
}

function malformed (what: string): BitswapError {
  return new BitswapError('MALFORMED', `not a bitswap message: ${what}`)
}

/** The wantlist change one message makes (its blocks and presences are not looked at). */
export function readWantlist (message: Uint8Array): WantlistChange {
  const change: WantlistChange = { full: false, wants: [], cancels: [] }
  const r = new ProtoReader(message)
  while (!r.done) {
    const key = r.varint()
    if (key !== (1 << 3 | 2)) {
      r.skip(key & 7)
      continue
    }
    const list = r.sub()
    while (!list.done) {
      const field = list.varint()
      if (field === (1 << 3 | 2)) readEntry(list.sub(), change)
      else if (field === (2 << 3 | 0)) change.full = list.varint() !== 0
      else list.skip(field & 7)
    }
  }
  return change
}

function readEntry (r: ProtoReader, change: WantlistChange): void {
  let cid: string | undefined
  let cancel = false
  while (!r.done) {
    const field = r.varint()
    if (field === (1 << 3 | 2)) {
      const bytes = r.slice()
      if (bytes.length > MAX_CID_BYTES) throw malformed(`a CID of ${bytes.length} bytes`)
      cid = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1')
    } else if (field === (3 << 3 | 0)) cancel = r.varint() !== 0
    else r.skip(field & 7)
  }
  if (cid === undefined) throw malformed('a wantlist entry without a CID')
  ;(cancel ? change.cancels : change.wants).push(cid)
}

/**
 * Splits a stream's chunks into its length-prefixed messages as they arrive,
 * refusing a message announced over `maxBytes` before keeping its bytes.
 */
export class MessageSplitter {
  readonly #maxBytes: number
  readonly #buffer = new Uint8ArrayList()

  constructor (maxBytes: number) {
    this.#maxBytes = maxBytes
  }

  push (chunk: Uint8Array | Uint8ArrayList): Uint8Array[] {
    this.#buffer.append(chunk)
    const messages: Uint8Array[] = []
    for (;;) {
      let length = 0
      let at = 0
      for (;;) {
        if (at >= this.#buffer.byteLength) return messages
        const byte = this.#buffer.get(at)
        length += (byte & 0x7f) * 2 ** (7 * at)
        at++
        if ((byte & 0x80) === 0) break
        if (2 ** (7 * at) > this.#maxBytes * 128) throw new BitswapError('MESSAGE_TOO_LONG', `a length prefix beyond ${this.#maxBytes} bytes`)
      }
      if (length > this.#maxBytes) throw new BitswapError('MESSAGE_TOO_LONG', `a message of ${length} bytes, at most ${this.#maxBytes}`)
      if (this.#buffer.byteLength < at + length) return messages
      messages.push(this.#buffer.subarray(at, at + length))
      this.#buffer.consume(at + length)
    }
  }
}
