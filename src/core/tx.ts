import { encodeCbor, cidOfDigest, cidStringOfDigest, decodeCanonical, read, type CID } from './cbor.ts'
import { OutPoint, outpointKeyOfDigest } from './outpoint.ts'
import { DecodeError } from './errors.ts'
import { hash160, sha256 } from './hash.ts'
import { PUBKEY_BYTES, SIGNATURE_BYTES, sign } from './keys.ts'
import { ADDRESS_HASH_BYTES } from './address.ts'
import { parseTx, sighashPreimage } from './tx-codec.ts'
import type { TransactionData } from './tx-data.ts'

export type { TransactionData, TxInput, TxOutput } from './tx-data.ts'

export const TX_VERSION = 1
/** Larger transactions are not decoded at all. */
export const MAX_TX_BYTES = 100_000
const MAX_TX_ITEMS = 5_000

function toIpld (data: TransactionData, withSignatures: boolean): Record<string, unknown> {
  const node: Record<string, unknown> = {
    version: data.version,
    inputs: data.inputs.map(i => ({
      txid: i.prev.txid,
      index: i.prev.index,
      pubkey: i.pubkey,
      sig: withSignatures ? i.sig : new Uint8Array(0)
    })),
    outputs: data.outputs.map(o => ({ amount: o.amount, address: o.address }))
  }
  if (data.height !== undefined) node.height = data.height
  return node
}

function fromIpld (value: unknown): TransactionData {
  const o = read.object(value, 'tx')
  read.keys(o, ['version', 'height', 'inputs', 'outputs'], 'tx')
  const data: TransactionData = {
    version: read.uint(o.version, 'tx.version', 0xffff_ffff),
    inputs: read.array(o.inputs, 'tx.inputs', MAX_TX_ITEMS).map((v, n) => {
      const i = read.object(v, `tx.inputs[${n}]`)
      read.keys(i, ['txid', 'index', 'pubkey', 'sig'], `tx.inputs[${n}]`)
      return {
        prev: OutPoint.of(read.cid(i.txid, `tx.inputs[${n}].txid`), read.uint(i.index, `tx.inputs[${n}].index`, 0xffff_ffff)),
        pubkey: read.bytes(i.pubkey, `tx.inputs[${n}].pubkey`, PUBKEY_BYTES),
        sig: read.bytes(i.sig, `tx.inputs[${n}].sig`, SIGNATURE_BYTES)
      }
    }),
    outputs: read.array(o.outputs, 'tx.outputs', MAX_TX_ITEMS).map((v, n) => {
      const out = read.object(v, `tx.outputs[${n}]`)
      read.keys(out, ['amount', 'address'], `tx.outputs[${n}]`)
      return {
        amount: read.bigint(out.amount, `tx.outputs[${n}].amount`),
        address: read.bytes(out.address, `tx.outputs[${n}].address`, ADDRESS_HASH_BYTES)
      }
    })
  }
  if (o.height !== undefined) data.height = read.uint(o.height, 'tx.height', 0xffff_ffff)
  return data
}

/** The generic decoder: any DAG-CBOR, checked to be canonical and well typed, with an error naming what is wrong. */
export function decodeTxData (bytes: Uint8Array): TransactionData {
  return fromIpld(decodeCanonical(bytes, 'transaction'))
}

/** The sighash preimage by definition; tx-codec cuts the same bytes from a transaction's encoding faster. */
export function encodeSighashPreimage (data: TransactionData, chainTag: Uint8Array): Uint8Array {
  return encodeCbor({ chain: chainTag, tx: toIpld(data, false) })
}

/**
 * A transaction with its canonical DAG-CBOR bytes and id, computed once. The id
 * is held as its digest and string: a block decodes thousands, and only the
 * IPLD and RPC paths need the CID object, made on first use.
 */
export class Tx {
  readonly data: TransactionData
  readonly bytes: Uint8Array
  /** SHA-256 of `bytes`: all of the id but the CID prefix. */
  readonly digest: Uint8Array
  readonly idString: string
  #id?: CID
  /** Where the signatures sit in `bytes`, when they are in the layout tx-codec parses. */
  readonly #sigOffsets: readonly number[] | undefined
  #sighash?: Uint8Array
  /** The chain tag #sighash was computed for: another network's tag must not get it. */
  #sighashTag?: Uint8Array
  #inputAddresses?: Uint8Array[]
  #inputKeys?: string[]

  private constructor (data: TransactionData, bytes: Uint8Array, sigOffsets: readonly number[] | undefined) {
    this.data = data
    this.bytes = bytes
    this.#sigOffsets = sigOffsets
    this.digest = sha256(bytes)
    this.idString = cidStringOfDigest(this.digest)
  }

  get id (): CID {
    this.#id ??= cidOfDigest(this.digest)
    return this.#id
  }

  static create (data: TransactionData): Tx {
    const bytes = encodeCbor(toIpld(data, true))
    return new Tx(data, bytes, parseTx(bytes)?.sigOffsets)
  }

  /** Decode untrusted bytes; throws DecodeError on anything but a canonical, well-typed transaction. */
  static fromBytes (bytes: Uint8Array): Tx {
    if (bytes.length > MAX_TX_BYTES) throw new DecodeError('TOO_LARGE', `transaction of ${bytes.length} bytes`)
    const parsed = parseTx(bytes)
    if (parsed !== undefined) return new Tx(parsed.data, bytes, parsed.sigOffsets)
    return new Tx(decodeTxData(bytes), bytes, undefined)
  }

  get isCoinbase (): boolean {
    return this.data.height !== undefined
  }

  /**
   * What every input signs (SIGHASH_ALL): the transaction with empty signatures,
   * bound to the network's genesis id so a transaction cannot be replayed on another network.
   */
  sighash (chainTag: Uint8Array): Uint8Array {
    if (this.#sighash === undefined || this.#sighashTag !== chainTag) {
      this.#sighashTag = chainTag
      this.#sighash = sha256(this.#sigOffsets === undefined
        ? encodeSighashPreimage(this.data, chainTag)
        : sighashPreimage(this.bytes, this.#sigOffsets, chainTag))
    }
    return this.#sighash
  }

  /** The outpoint key of each input, computed once. */
  inputKeys (): string[] {
    this.#inputKeys ??= this.data.inputs.map(i => outpointKeyOfDigest(i.prev.digest, i.prev.index))
    return this.#inputKeys
  }

  /** hash160 of each input's public key, computed once: a block reuses the mempool's Tx objects and skips it. */
  inputAddresses (): Uint8Array[] {
    this.#inputAddresses ??= this.data.inputs.map(i => hash160(i.pubkey))
    return this.#inputAddresses
  }
}

/** Sign every input with the key for it (keys[i] signs inputs[i]); the pubkeys must already be set. */
export function signTransaction (data: TransactionData, privateKeys: Uint8Array[], chainTag: Uint8Array): Tx {
  const unsigned = Tx.create({ ...data, inputs: data.inputs.map(i => ({ ...i, sig: new Uint8Array(SIGNATURE_BYTES) })) })
  const msg = unsigned.sighash(chainTag)
  return Tx.create({ ...data, inputs: data.inputs.map((i, n) => ({ ...i, sig: sign(msg, privateKeys[n]) })) })
}
