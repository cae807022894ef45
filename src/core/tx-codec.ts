/**
 * The hot path of transaction decoding: one pass over the bytes that accepts only
 * the canonical DAG-CBOR layout of a well-formed transaction, and records where
 * each signature sits so the sighash is hashed from the bytes instead of
 * re-encoding the transaction. Anything it does not accept goes to the generic
 * decoder (Tx.fromBytes), which accepts or rejects it with a precise error: this
 * parser must never accept what that one rejects (test/core-tx-codec.test.ts).
 */
import { CID_LINK_HEAD, CID_PREFIX } from './cbor.ts'
import { CborReader, MISMATCH, text } from './cbor-reader.ts'
import { PUBKEY_BYTES, SIGNATURE_BYTES } from './keys.ts'
import { ADDRESS_HASH_BYTES } from './address.ts'
import { OutPoint } from './outpoint.ts'
import type { TransactionData, TxInput, TxOutput } from './tx-data.ts'

/** Within what the generic decoder allows (tx.ts MAX_TX_ITEMS): beyond it, that decoder gives the error. */
const MAX_ITEMS = 5_000
const MAX_UINT32 = 0xffff_ffff

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
/** A CID link's head, then the prefix of our ids: all of an input's txid but its digest. */
const CID_LINK_PREFIX = Uint8Array.from([...CID_LINK_HEAD, ...CID_PREFIX])
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

/**
 * Parses canonical transaction bytes; undefined when they are anything else
 * (then the generic decoder decides, and names the error).
 */
export function parseTx (bytes: Uint8Array): ParsedTx | undefined {
  try {
    return parse(new CborReader(bytes))
  } catch (err) {
    if (err === MISMATCH) return undefined
    throw err
  }
}

function parse (r: CborReader): ParsedTx {
  const fields = r.length(5, MAX_ITEMS)
  if (fields !== 3 && fields !== 4) throw MISMATCH
  let height: number | undefined
  if (fields === 4) {
    r.expect(KEY.height)
    height = r.uint(MAX_UINT32)
  }
  r.expect(KEY.inputs)
  const inputs: TxInput[] = []
  const sigOffsets: number[] = []
  for (let n = r.length(4, MAX_ITEMS); n > 0; n--) {
    if (r.length(5, MAX_ITEMS) !== 4) throw MISMATCH
    r.expect(KEY.sig)
    sigOffsets.push(r.pos)
    r.expect(SIG_HEADER)
    const sig = r.take(SIGNATURE_BYTES)
    r.expect(KEY.txid)
    r.expect(CID_LINK_PREFIX)
    const digest = r.take(32)
    r.expect(KEY.index)
    const prev = new OutPoint(digest, r.uint(MAX_UINT32))
    r.expect(KEY.pubkey)
    r.expect(PUBKEY_HEADER)
    inputs.push({ prev, pubkey: r.take(PUBKEY_BYTES), sig })
  }
  r.expect(KEY.outputs)
  const outputs: TxOutput[] = []
  for (let n = r.length(4, MAX_ITEMS); n > 0; n--) {
    if (r.length(5, MAX_ITEMS) !== 2) throw MISMATCH
    r.expect(KEY.amount)
    // Negative amounts decode too, as the generic decoder's do: the sanity rules reject them with their own code.
    const negative = r.pos < r.bytes.length && r.bytes[r.pos] >> 5 === 1
    const magnitude = BigInt(r.head(negative ? 1 : 0))
    r.expect(KEY.address)
    r.expect(ADDRESS_HEADER)
    outputs.push({ amount: negative ? -1n - magnitude : magnitude, address: r.take(ADDRESS_HASH_BYTES) })
  }
  r.expect(KEY.version)
  const version = r.uint(MAX_UINT32)
  if (r.pos !== r.bytes.length) throw MISMATCH
  const data: TransactionData = { version, inputs, outputs }
  if (height !== undefined) data.height = height
  return { data, sigOffsets }
}

/** Reused for every preimage, grown to the largest yet. */
let scratch = new Uint8Array(4096)

/**
 * The bytes every input signs, cut from the transaction's canonical bytes: the
 * DAG-CBOR map { tx: the transaction with empty signatures, chain: chainTag }
 * (keys in canonical order), equal to encoding it afresh. Returned as a view of
 * a buffer the next call overwrites: hash it at once (a block cuts thousands).
 */
export function sighashPreimage (bytes: Uint8Array, sigOffsets: readonly number[], chainTag: Uint8Array): Uint8Array {
  // A chain tag is a CID (36 bytes): the one- and two-byte heads below cover up to 255.
  if (chainTag.length > 255) throw new RangeError(`a chain tag of ${chainTag.length} bytes`)
  const cut = SIG_HEADER.length + SIGNATURE_BYTES - 1
  const tagHead = chainTag.length < 24 ? 1 : 2
  const length = PREIMAGE_HEAD.length + bytes.length - cut * sigOffsets.length + CHAIN_KEY.length + tagHead + chainTag.length
  if (length > scratch.length) scratch = new Uint8Array(length * 2)
  const out = scratch
  out.set(PREIMAGE_HEAD)
  let at = PREIMAGE_HEAD.length
  let from = 0
  // Byte loops rather than set(subarray(...)): no view object per piece.
  for (const offset of sigOffsets) {
    while (from < offset) out[at++] = bytes[from++]
    out[at++] = EMPTY_BYTES
    from = offset + SIG_HEADER.length + SIGNATURE_BYTES
  }
  while (from < bytes.length) out[at++] = bytes[from++]
  out.set(CHAIN_KEY, at)
  at += CHAIN_KEY.length
  if (tagHead === 1) out[at++] = 0x40 + chainTag.length
  else {
    out[at++] = 0x58
    out[at++] = chainTag.length
  }
  out.set(chainTag, at)
  return out.subarray(0, length)
}
