import { cidOfDigest, cidStringOfDigest, type CID } from './cbor.ts'

/**
 * A previous output, named by its transaction's id and position (coinpy named
 * it by (amount, address), so equal outputs collided). Held as the id's digest:
 * a block names thousands, and the rules need only the digest; the CID object
 * is made when something asks for it.
 */
export class OutPoint {
  /** The SHA-256 digest of the spent transaction's bytes: all of its id but the CID prefix. */
  readonly digest: Uint8Array
  readonly index: number
  #txid: CID | undefined

  constructor (digest: Uint8Array, index: number, txid?: CID) {
    this.digest = digest
    this.index = index
    this.#txid = txid
  }

  /** The output `index` of the transaction `txid` (one of our ids: a dag-cbor SHA-256 CIDv1). */
  static of (txid: CID, index: number): OutPoint {
    return new OutPoint(txid.multihash.digest, index, txid)
  }

  get txid (): CID {
    this.#txid ??= cidOfDigest(this.digest)
    return this.#txid
  }
}

/** "txid:index", the key of an outpoint in every map and in the UTXO set's index. */
export function outpointKey (txid: string, index: number): string {
  return `${txid}:${index}`
}

/** outpointKey for the transaction with this digest, spelled as one string (a block makes one per input). */
export function outpointKeyOfDigest (digest: Uint8Array, index: number): string {
  return cidStringOfDigest(digest, `:${index}`)
}

/** The txid and output index an outpointKey names (a txid holds no ':'). */
export function parseOutpointKey (key: string): { txid: string, index: number } {
  const sep = key.lastIndexOf(':')
  return { txid: key.slice(0, sep), index: Number(key.slice(sep + 1)) }
}
