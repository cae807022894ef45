/**
 * The hot path of transaction decoding: one pass over the bytes that accepts only
 * the canonical DAG-CBOR layout of a well-formed transaction, and records where
 * each signature sits so the sighash is hashed from the bytes instead of
 * re-encoding the transaction. Anything it does not accept goes to the generic
 * decoder (Tx.fromBytes), which accepts or rejects it with a precise error: this
 * parser must never accept what that one rejects (test/core-tx-codec.test.ts).
 */
import { CID } from './cbor.ts'
import { PUBKEY_BYTES, SIGNATURE_BYTES } from './keys.ts'
import { ADDRESS_HASH_BYTES } from './address.ts'
import type { TransactionData, TxInput, TxOutput } from './tx.ts'

/** Within what the generic decoder allows (tx.ts MAX_TX_ITEMS): beyond it, that decoder gives the error. */
const MAX_ITEMS = 5_000
const MAX_UINT32 = 0xffff_ffff

const text = (s: string): Uint8Array => Uint8Array.from([0x60 + s.length, ...Buffer.from(s)])
const KEY = {
  height: text('height'),
  inputs: text('inputs'),
  outputs: text('outputs'),
  version: text('version'),
  sig: text('sig'),
  txid: text('txid'),
  index: text('index'),
  pubkey: text('pubkey'),
  amount: text('amount'),
  address: text('address')
}
/** Tag 42, a 37-byte string, the identity multibase prefix, then CIDv1 dag-cbor sha2-256 of 32 bytes. */
const CID_LINK_PREFIX = Uint8Array.from([0xd8, 0x2a, 0x58, 0x25, 0x00, 0x01, 0x71, 0x12, 0x20])
/** A byte string of 64: the encoded signature's header, which the sighash replaces with an empty string. */
const SIG_HEADER = Uint8Array.of(0x58, SIGNATURE_BYTES)
const PUBKEY_HEADER = Uint8Array.of(0x58, PUBKEY_BYTES)
const ADDRESS_HEADER = Uint8Array.of(0x40 + ADDRESS_HASH_BYTES)
const EMPTY_BYTES = 0x40
const PREIMAGE_HEAD = Uint8Array.from([0xa2, ...text('tx')])
const CHAIN_KEY = text('chain')

export interface ParsedTx {
  data: TransactionData
  /** Offset of each input's encoded signature (its 2-byte header, then 64 bytes). */
  sigOffsets: number[]
}

/** Thrown inside the parser only: the bytes are not in the layout it accepts. */
const MISMATCH = new Error('not the canonical transaction layout')

class Reader {
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
    const raw = this.take(size)
    let value: number | bigint
    if (size < 8) {
      let n = 0
      for (const b of raw) n = n * 256 + b
      value = n
    } else {
      let n = 0n
      for (const b of raw) n = (n << 8n) | BigInt(b)
      value = n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n
    }
    // Canonical: no shorter head could hold the value.
    if (value < (size === 1 ? 24 : 2 ** (4 * size))) throw MISMATCH
    return value
  }

  uint32 (): number {
    const v = this.head(0)
    if (typeof v !== 'number' || v > MAX_UINT32) throw MISMATCH
    return v
  }

  length (major: number): number {
    const v = this.head(major)
    if (typeof v !== 'number' || v > MAX_ITEMS) throw MISMATCH
    return v
  }
}

/**
 * Parses canonical transaction bytes; undefined when they are anything else
 * (then the generic decoder decides, and names the error).
 */
export function parseTx (bytes: Uint8Array): ParsedTx | undefined {
  try {
    return parse(new Reader(bytes))
  } catch (err) {
    if (err === MISMATCH) return undefined
    throw err
  }
}

function parse (r: Reader): ParsedTx {
  const fields = r.length(5)
  if (fields !== 3 && fields !== 4) throw MISMATCH
  let height: number | undefined
  if (fields === 4) {
    r.expect(KEY.height)
    height = r.uint32()
  }
  r.expect(KEY.inputs)
  const inputs: TxInput[] = []
  const sigOffsets: number[] = []
  for (let n = r.length(4); n > 0; n--) {
    if (r.length(5) !== 4) throw MISMATCH
    r.expect(KEY.sig)
    sigOffsets.push(r.pos)
    r.expect(SIG_HEADER)
    const sig = r.take(SIGNATURE_BYTES)
    r.expect(KEY.txid)
    r.expect(CID_LINK_PREFIX)
    const txid = CID.decode(r.bytes.subarray(r.pos - 4, r.pos + 32))
    r.pos += 32
    r.expect(KEY.index)
    const index = r.uint32()
    r.expect(KEY.pubkey)
    r.expect(PUBKEY_HEADER)
    inputs.push({ prev: { txid, index }, pubkey: r.take(PUBKEY_BYTES), sig })
  }
  r.expect(KEY.outputs)
  const outputs: TxOutput[] = []
  for (let n = r.length(4); n > 0; n--) {
    if (r.length(5) !== 2) throw MISMATCH
    r.expect(KEY.amount)
    // Negative amounts decode too, as the generic decoder's do: the sanity rules reject them with their own code.
    const negative = r.pos < r.bytes.length && r.bytes[r.pos] >> 5 === 1
    const magnitude = BigInt(r.head(negative ? 1 : 0))
    r.expect(KEY.address)
    r.expect(ADDRESS_HEADER)
    outputs.push({ amount: negative ? -1n - magnitude : magnitude, address: r.take(ADDRESS_HASH_BYTES) })
  }
  r.expect(KEY.version)
  const version = r.uint32()
  if (r.pos !== r.bytes.length) throw MISMATCH
  const data: TransactionData = { version, inputs, outputs }
  if (height !== undefined) data.height = height
  return { data, sigOffsets }
}

/**
 * The bytes every input signs, cut from the transaction's canonical bytes: the
 * DAG-CBOR map { tx: the transaction with empty signatures, chain: chainTag }
 * (keys in canonical order), equal to encoding it afresh.
 */
export function sighashPreimage (bytes: Uint8Array, sigOffsets: readonly number[], chainTag: Uint8Array): Uint8Array {
  const cut = SIG_HEADER.length + SIGNATURE_BYTES - 1
  const tagHead = chainTag.length < 24 ? [0x40 + chainTag.length] : [0x58, chainTag.length]
  const head = PREIMAGE_HEAD
  const tail = [...CHAIN_KEY, ...tagHead]
  const out = new Uint8Array(head.length + bytes.length - cut * sigOffsets.length + tail.length + chainTag.length)
  out.set(head)
  let at = head.length
  let from = 0
  for (const offset of sigOffsets) {
    out.set(bytes.subarray(from, offset), at)
    at += offset - from
    out[at++] = EMPTY_BYTES
    from = offset + SIG_HEADER.length + SIGNATURE_BYTES
  }
  out.set(bytes.subarray(from), at)
  at += bytes.length - from
  out.set(tail, at)
  out.set(chainTag, at + tail.length)
  return out
}
