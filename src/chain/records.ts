/**
 * Binary forms of what the chain keeps in LevelDB besides the IPLD blocks:
 * fixed layouts that load without hashing or CBOR, so a restart over 10,000
 * blocks reads the index in milliseconds.
 */
import type { Block } from '../core/block.ts'
import { base32, CID_PREFIX, cidOfDigest, CID } from '../core/cbor.ts'
import type { Coin } from '../core/rules.ts'
import { ADDRESS_HASH_BYTES } from '../core/address.ts'
import { CointsError } from '../core/errors.ts'

/** A record in the database that does not parse: the datadir is damaged. */
export class StoreError extends CointsError {}

/** blockstore-level's key for a CID, so a LevelBlockstore over the same database serves our blocks to IPFS unchanged. */
export function blockstoreKey (cid: CID): string {
  // Their key: "/", then the multibase (base32upper, prefix "B") of the multihash.
  return base32(cid.multihash.bytes, '/B', true)
}

/** Our ids' multihash (SHA-256, 32 bytes) with room for the digest, reused for every key. */
const MULTIHASH = new Uint8Array(34)
MULTIHASH.set(CID_PREFIX.subarray(2))

/** blockstoreKey of one of our ids from its digest, without its CID: a block stores thousands. */
export function blockstoreKeyOfDigest (digest: Uint8Array): string {
  MULTIHASH.set(digest, 2)
  return base32(MULTIHASH, '/B', true)
}

export const BlockStatus = {
  VALID: 0,
  INVALID: 1
} as const
export type BlockStatus = typeof BlockStatus[keyof typeof BlockStatus]

export interface IndexRecord {
  digest: Uint8Array
  prevDigest: Uint8Array | null
  height: number
  time: number
  bits: number
  status: BlockStatus
}

/** A block's index record, from its header. */
export function indexRecordOf (block: Block, status: BlockStatus = BlockStatus.VALID): IndexRecord {
  const h = block.header.data
  return { digest: block.id.multihash.digest, prevDigest: h.prev?.multihash.digest ?? null, height: h.height, time: h.time, bits: h.bits, status }
}

const DIGEST = 32
const INDEX_VALUE_BYTES = DIGEST + 4 + 4 + 1

/** Key: height (so a scan yields parents first) then the header digest. */
export function indexKey (height: number, digest: Uint8Array): Uint8Array {
  const key = new Uint8Array(4 + DIGEST)
  new DataView(key.buffer).setUint32(0, height)
  key.set(digest, 4)
  return key
}

export function encodeIndexValue (r: IndexRecord): Uint8Array {
  const v = new Uint8Array(INDEX_VALUE_BYTES)
  const view = new DataView(v.buffer)
  if (r.prevDigest !== null) v.set(r.prevDigest, 0)
  view.setUint32(DIGEST, r.time)
  view.setUint32(DIGEST + 4, r.bits)
  v[DIGEST + 8] = r.status
  return v
}

export function decodeIndexRecord (key: Uint8Array, value: Uint8Array): IndexRecord {
  if (key.length !== 4 + DIGEST || value.length !== INDEX_VALUE_BYTES) throw new StoreError('CORRUPT_INDEX', 'block index record of the wrong size')
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength)
  const height = new DataView(key.buffer, key.byteOffset, key.byteLength).getUint32(0)
  const prevDigest = value.slice(0, DIGEST)
  const status = value[DIGEST + 8]
  if (status !== BlockStatus.VALID && status !== BlockStatus.INVALID) throw new StoreError('CORRUPT_INDEX', `unknown block status ${status}`)
  return {
    digest: key.slice(4),
    prevDigest: height === 0 ? null : prevDigest,
    height,
    time: view.getUint32(DIGEST),
    bits: view.getUint32(DIGEST + 4),
    status
  }
}

export function cidFromDigest (digest: Uint8Array): CID {
  return cidOfDigest(digest)
}

const COIN_BYTES = 8 + ADDRESS_HASH_BYTES + 4 + 1

/** amount (u64) | address (20) | height (u32) | coinbase flag. */
export function encodeCoin (coin: Coin): Uint8Array {
  const v = new Uint8Array(COIN_BYTES)
  const view = new DataView(v.buffer)
  view.setBigUint64(0, coin.amount)
  v.set(coin.address, 8)
  view.setUint32(8 + ADDRESS_HASH_BYTES, coin.height)
  v[COIN_BYTES - 1] = coin.coinbase ? 1 : 0
  return v
}

export function decodeCoin (v: Uint8Array): Coin {
  if (v.length !== COIN_BYTES) throw new StoreError('CORRUPT_UTXO', 'coin record of the wrong size')
  const view = new DataView(v.buffer, v.byteOffset, v.byteLength)
  return {
    amount: view.getBigUint64(0),
    // A view, not a copy: LevelDB gives every value its own buffer, of a coin's size.
    address: v.subarray(8, 8 + ADDRESS_HASH_BYTES),
    height: view.getUint32(8 + ADDRESS_HASH_BYTES),
    coinbase: v[COIN_BYTES - 1] === 1
  }
}

/** Undo data of a block: the coins it spent, in order, as (key length u16 | key utf8 | coin) records. */
export function encodeUndo (spent: Array<[string, Coin]>): Uint8Array {
  const keys = spent.map(([key]) => Buffer.from(key, 'utf8'))
  const out = new Uint8Array(keys.reduce((n, k) => n + 2 + k.length + COIN_BYTES, 0))
  const view = new DataView(out.buffer)
  let at = 0
  spent.forEach(([, coin], i) => {
    view.setUint16(at, keys[i].length)
    out.set(keys[i], at + 2)
    at += 2 + keys[i].length
    out.set(encodeCoin(coin), at)
    at += COIN_BYTES
  })
  return out
}

export function decodeUndo (bytes: Uint8Array): Array<[string, Coin]> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const spent: Array<[string, Coin]> = []
  for (let at = 0; at < bytes.length;) {
    if (at + 2 > bytes.length) throw new StoreError('CORRUPT_UNDO', 'truncated undo record')
    const keyLength = view.getUint16(at)
    const end = at + 2 + keyLength + COIN_BYTES
    if (end > bytes.length) throw new StoreError('CORRUPT_UNDO', 'truncated undo record')
    const key = Buffer.from(bytes.buffer, bytes.byteOffset + at + 2, keyLength).toString('utf8')
    // A copy: a restored coin must not hold the whole block's undo record.
    spent.push([key, decodeCoin(bytes.slice(end - COIN_BYTES, end))])
    at = end
  }
  return spent
}

export { CID }
