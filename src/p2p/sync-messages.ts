/**
 * The sync protocol's messages: DAG-CBOR maps, each decoded strictly (unknown
 * keys, wrong types and oversized lists are a ProtocolError, and the peer that
 * sent them is penalised).
 */
import { encodeCbor, decodeCbor, read, type CID } from '../core/cbor.ts'
import { CointsError, DecodeError, Verdict, type PeerVerdict } from '../core/errors.ts'
import { bytesToBigInt } from '../core/hash.ts'

export const SyncErrorCode = {
  MALFORMED: 'MALFORMED',
  WRONG_NETWORK: 'WRONG_NETWORK',
  TIMEOUT: 'TIMEOUT',
  BAD_HEADERS: 'BAD_HEADERS',
  BAD_BLOCK: 'BAD_BLOCK',
  UNREQUESTED: 'UNREQUESTED',
  /** A blocks reply stopped short of both the byte limit and the blocks asked for: the server holds back blocks whose headers it sent. */
  WITHHELD: 'WITHHELD',
  /** The exchange broke (reset, refused protocol, closed connection): no proof of malice. */
  STREAM_FAILED: 'STREAM_FAILED',
  /** The peer's headers ended with less work than its status claimed (a lie, or a reorganisation caught midway). */
  LOW_WORK: 'LOW_WORK',
  /** The peer's branch did not show our tip's work within the headers we hold back for it. */
  TOO_DEEP: 'TOO_DEEP'
} as const
export type SyncErrorCode = typeof SyncErrorCode[keyof typeof SyncErrorCode]

/** Each sync error's verdict on the peer we were syncing from, in the style of BLOCK_VERDICTS. */
export const SYNC_VERDICTS: { readonly [C in SyncErrorCode]: PeerVerdict } = {
  MALFORMED: Verdict.BAN,
  WRONG_NETWORK: Verdict.BAN,
  TIMEOUT: Verdict.LIGHT,
  BAD_HEADERS: Verdict.BAN,
  BAD_BLOCK: Verdict.BAN,
  UNREQUESTED: Verdict.BAN,
  WITHHELD: Verdict.BAN,
  STREAM_FAILED: Verdict.LIGHT,
  LOW_WORK: Verdict.LIGHT,
  TOO_DEEP: Verdict.LIGHT
}

export class SyncError extends CointsError<SyncErrorCode> {
  get verdict (): PeerVerdict { return SYNC_VERDICTS[this.code] }
}

/** Most headers one reply carries. */
export const MAX_HEADERS = 2_000
/** Most blocks one request asks for: small blocks travel many to a reply. */
export const MAX_BLOCKS_PER_REQUEST = 128
/** A reply holds blocks up to this many bytes, then stops: the asker requests the rest again. */
export const BLOCKS_REPLY_BYTES = 4_000_000
/** Largest message on the sync protocols: a full reply and its last block, at most MAX_BLOCK_WIRE_BYTES. */
export const MAX_SYNC_MESSAGE_BYTES = 20_000_000
/** Most ids in a block locator. */
export const MAX_LOCATOR = 64

export interface Status {
  genesis: CID
  tip: CID
  height: number
  chainwork: bigint
}

function decodeMessage (bytes: Uint8Array, what: string): Record<string, unknown> {
  try {
    return read.object(decodeCbor(bytes, what), what)
  } catch (err) {
    throw new SyncError('MALFORMED', (err as Error).message)
  }
}

/** Runs a field reader and turns its DecodeError into a ProtocolError. */
function strictly<T> (fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof DecodeError) throw new SyncError('MALFORMED', err.message)
    throw err
  }
}

export function encodeStatus (s: Status): Uint8Array {
  return encodeCbor({ genesis: s.genesis, tip: s.tip, height: s.height, chainwork: bigintToBytes(s.chainwork) })
}

export function decodeStatus (bytes: Uint8Array): Status {
  const o = decodeMessage(bytes, 'status')
  return strictly(() => {
    read.keys(o, ['genesis', 'tip', 'height', 'chainwork'], 'status')
    const work = read.bytes(o.chainwork, 'status.chainwork')
    if (work.length > 32) throw new DecodeError('BAD_FIELD', 'status.chainwork longer than 32 bytes')
    return {
      genesis: read.cid(o.genesis, 'status.genesis'),
      tip: read.cid(o.tip, 'status.tip'),
      height: read.uint(o.height, 'status.height', 0xffff_ffff),
      chainwork: bytesToBigInt(work)
    }
  })
}

/** A status request is empty: anything in it is garbage. */
export function decodeStatusRequest (bytes: Uint8Array): void {
  if (bytes.length > 0) throw new SyncError('MALFORMED', `a status request of ${bytes.length} bytes: it is empty`)
}

export function encodeHeadersRequest (locator: CID[], max: number): Uint8Array {
  return encodeCbor({ locator, max })
}

export function decodeHeadersRequest (bytes: Uint8Array): { locator: CID[], max: number } {
  const o = decodeMessage(bytes, 'headers request')
  return strictly(() => {
    read.keys(o, ['locator', 'max'], 'headers request')
    return {
      locator: read.array(o.locator, 'locator', MAX_LOCATOR).map((v, n) => read.cid(v, `locator[${n}]`)),
      max: Math.min(read.uint(o.max, 'max'), MAX_HEADERS)
    }
  })
}

export function encodeHeadersResponse (headers: Uint8Array[]): Uint8Array {
  return encodeCbor({ headers })
}

export function decodeHeadersResponse (bytes: Uint8Array): Uint8Array[] {
  const o = decodeMessage(bytes, 'headers response')
  return strictly(() => {
    read.keys(o, ['headers'], 'headers response')
    return read.array(o.headers, 'headers', MAX_HEADERS).map((v, n) => read.bytes(v, `headers[${n}]`))
  })
}

export function encodeBlocksRequest (ids: CID[]): Uint8Array {
  return encodeCbor({ ids })
}

export function decodeBlocksRequest (bytes: Uint8Array): CID[] {
  const o = decodeMessage(bytes, 'blocks request')
  return strictly(() => {
    read.keys(o, ['ids'], 'blocks request')
    return read.array(o.ids, 'ids', MAX_BLOCKS_PER_REQUEST).map((v, n) => read.cid(v, `ids[${n}]`))
  })
}

/** Blocks in wire form: the first ones asked for, up to the first the server does not have or BLOCKS_REPLY_BYTES. */
export function encodeBlocksResponse (blocks: Uint8Array[]): Uint8Array {
  return encodeCbor({ blocks })
}

export function decodeBlocksResponse (bytes: Uint8Array): Uint8Array[] {
  const o = decodeMessage(bytes, 'blocks response')
  return strictly(() => {
    read.keys(o, ['blocks'], 'blocks response')
    return read.array(o.blocks, 'blocks', MAX_BLOCKS_PER_REQUEST).map((v, n) => read.bytes(v, `blocks[${n}]`))
  })
}

function bigintToBytes (n: bigint): Uint8Array {
  const hex = n.toString(16)
  return Uint8Array.from(Buffer.from(hex.length % 2 === 0 ? hex : '0' + hex, 'hex'))
}
