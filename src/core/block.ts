import { CID_LINK_HEAD, CID_PREFIX, encodeCbor, cidOf, decodeCanonical, decodeCbor, read, type CID } from './cbor.ts'
import { CborReader, MISMATCH, text } from './cbor-reader.ts'
import { DecodeError } from './errors.ts'
import { bytesToBigInt, equalBytes } from './hash.ts'
import { Tx } from './tx.ts'

export const BLOCK_VERSION = 1
export const NONCE_BYTES = 8
/** Hard cap on any block message before decoding; the consensus limit is the network's maxBlockBytes. */
export const MAX_BLOCK_WIRE_BYTES = 4_000_000
const MAX_BLOCK_TXS = 50_000

export interface HeaderData {
  version: number
  height: number
  /** Parent header's CID; null only for genesis. */
  prev: CID | null
  /** CID of the DAG-CBOR list of this block's transaction CIDs. */
  txs: CID
  /** Seconds since the Unix epoch. */
  time: number
  /** Compact target. */
  bits: number
  /** Fixed-width, so the miner patches it in place in the encoded header. */
  nonce: Uint8Array
}

function headerFromIpld (value: unknown): HeaderData {
  const o = read.object(value, 'header')
  read.keys(o, ['version', 'height', 'prev', 'txs', 'time', 'bits', 'nonce'], 'header')
  return {
    version: read.uint(o.version, 'header.version', 0xffff_ffff),
    height: read.uint(o.height, 'header.height', 0xffff_ffff),
    prev: o.prev === null ? null : read.cid(o.prev, 'header.prev'),
    txs: read.cid(o.txs, 'header.txs'),
    time: read.uint(o.time, 'header.time', 0xffff_ffff),
    bits: read.uint(o.bits, 'header.bits', 0xffff_ffff),
    nonce: read.bytes(o.nonce, 'header.nonce', NONCE_BYTES)
  }
}

export function encodeHeaderData (data: HeaderData): Uint8Array {
  return encodeCbor({ ...data })
}

/** A header with its bytes, CID and proof-of-work hash. Its id's SHA-256 digest is the PoW hash. */
export class Header {
  readonly data: HeaderData
  readonly bytes: Uint8Array
  readonly id: CID
  readonly idString: string

  private constructor (data: HeaderData, bytes: Uint8Array) {
    this.data = data
    this.bytes = bytes
    this.id = cidOf(bytes)
    this.idString = this.id.toString()
  }

  static create (data: HeaderData): Header {
    return new Header(data, encodeHeaderData(data))
  }

  static fromBytes (bytes: Uint8Array): Header {
    if (bytes.length > 1024) throw new DecodeError('TOO_LARGE', 'header')
    return new Header(headerFromIpld(decodeCanonical(bytes, 'header')), bytes)
  }

  get powHash (): bigint {
    return bytesToBigInt(this.id.multihash.digest)
  }
}

/** The DAG-CBOR list of transaction CIDs that a header links to. */
export function encodeTxList (txs: readonly Tx[]): Uint8Array {
  // Written directly, as DAG-CBOR would: a list head, then tag 42 and the
  // identity-prefixed bytes of each 36-byte CID: our prefix, then the digest
  // (test/core-rules.test.ts compares).
  const n = txs.length
  const head = n < 24 ? [0x80 + n] : n < 0x100 ? [0x98, n] : n < 0x1_0000 ? [0x99, n >> 8, n & 0xff] : [0x9a, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]
  const out = new Uint8Array(head.length + n * (CID_LINK_HEAD.length + 36))
  out.set(head)
  let at = head.length
  for (let t = 0; t < n; t++) {
    out.set(CID_LINK_HEAD, at)
    out.set(CID_PREFIX, at + CID_LINK_HEAD.length)
    out.set(txs[t].digest, at + CID_LINK_HEAD.length + CID_PREFIX.length)
    at += CID_LINK_HEAD.length + CID_PREFIX.length + 32
  }
  return out
}

/** A block message's parts: its header's bytes and each transaction's. */
export interface BlockParts { header: Uint8Array, txs: Uint8Array[] }

const TXS_KEY = text('txs')
const HEADER_KEY = text('header')

/**
 * Splits a block message into its parts, as views of its bytes. The canonical
 * layout (what encodeBlockParts writes) is read directly, without an object per
 * value; anything else goes to the generic decoder, which accepts or names the error.
 */
export function decodeBlockParts (bytes: Uint8Array): BlockParts {
  if (bytes.length > MAX_BLOCK_WIRE_BYTES) throw new DecodeError('TOO_LARGE', `block message of ${bytes.length} bytes`)
  try {
    return parseBlockParts(new CborReader(bytes))
  } catch (err) {
    if (err !== MISMATCH) throw err
  }
  // The wrapper itself is not content-addressed, so only its parts must be canonical.
  const o = read.object(decodeCbor(bytes, 'block'), 'block')
  read.keys(o, ['header', 'txs'], 'block')
  return {
    header: read.bytes(o.header, 'block.header'),
    txs: read.array(o.txs, 'block.txs', MAX_BLOCK_TXS).map((t, n) => read.bytes(t, `block.txs[${n}]`))
  }
}

/** The canonical layout: { txs: [bytes, ...], header: bytes }, keys in DAG-CBOR order. */
function parseBlockParts (r: CborReader): BlockParts {
  if (r.length(5, 2) !== 2) throw MISMATCH
  r.expect(TXS_KEY)
  const txs: Uint8Array[] = []
  for (let n = r.length(4, MAX_BLOCK_TXS); n > 0; n--) txs.push(r.take(r.length(2, MAX_BLOCK_WIRE_BYTES)))
  r.expect(HEADER_KEY)
  const header = r.take(r.length(2, MAX_BLOCK_WIRE_BYTES))
  if (r.pos !== r.bytes.length) throw MISMATCH
  return { header, txs }
}

/** A block's wire form from its parts' bytes. */
export function encodeBlockParts (header: Uint8Array, txs: Uint8Array[]): Uint8Array {
  return encodeCbor({ header, txs })
}

export class Block {
  readonly header: Header
  readonly txs: readonly Tx[]
  #txList?: Uint8Array

  constructor (header: Header, txs: readonly Tx[]) {
    this.header = header
    this.txs = txs
  }

  /** The DAG-CBOR list of transaction CIDs the header links to, encoded once. */
  get txList (): Uint8Array {
    this.#txList ??= encodeTxList(this.txs)
    return this.#txList
  }

  get id (): CID { return this.header.id }
  get idString (): string { return this.header.idString }
  get height (): number { return this.header.data.height }

  /** Consensus size: header plus transactions. */
  get size (): number {
    let size = this.header.bytes.length
    for (let t = 0; t < this.txs.length; t++) size += this.txs[t].bytes.length
    return size
  }

  /** The wire form: a DAG-CBOR map of the header's bytes and each transaction's bytes. */
  encode (): Uint8Array {
    return encodeBlockParts(this.header.bytes, this.txs.map(t => t.bytes))
  }

  /**
   * Decodes a block message. `known` may supply transactions already decoded
   * (the mempool's) with the same bytes, which are then not decoded again.
   * `expected` is a header already decoded (sync fetches blocks by their headers): the same bytes are not decoded again.
   */
  static decode (bytes: Uint8Array, known?: (txBytes: Uint8Array) => Tx | undefined, expected?: Header): Block {
    const parts = decodeBlockParts(bytes)
    const header = expected !== undefined && equalBytes(expected.bytes, parts.header) ? expected : Header.fromBytes(parts.header)
    const txs = parts.txs.map(txBytes => known?.(txBytes) ?? Tx.fromBytes(txBytes))
    return new Block(header, txs)
  }
}
