/**
 * The chain's blocks in CAR v1 files (@ipld/car): each block as its IPLD
 * objects, header first, then its transaction list, then its transactions in
 * the list's order; and back, a CAR read as a stream of whole blocks, every
 * object checked against its CID.
 */
import { CarBlockIterator } from '@ipld/car'
import { Block, Header } from '../core/block.ts'
import { cidOf, decodeCanonical, read, type CID } from '../core/cbor.ts'
import { CointsError } from '../core/errors.ts'
import { equalBytes, sha256 } from '../core/hash.ts'
import { Tx } from '../core/tx.ts'

export const CarErrorCode = {
  /** Not a CAR v1 (its header does not decode). */
  BAD_CAR: 'BAD_CAR',
  /** The file ends inside an object, or inside a block (its list or transactions missing). */
  TRUNCATED: 'TRUNCATED',
  /** An object whose bytes do not hash to its CID (or a CID of another kind than the chain's). */
  BAD_HASH: 'BAD_HASH',
  /** An object other than the one the block so far calls for, or one that is no header, list or transaction. */
  UNEXPECTED_OBJECT: 'UNEXPECTED_OBJECT'
} as const
export type CarErrorCode = typeof CarErrorCode[keyof typeof CarErrorCode]
export class CarError extends CointsError<CarErrorCode> {}

/** Largest transaction list a block may link (a list entry takes 39 bytes). */
const MAX_LIST_ITEMS = 50_000

export interface CarObject { cid: CID, bytes: Uint8Array }

/** A block's IPLD objects in the order its CAR holds them: header, transaction list, transactions. */
export function blockObjects (block: Block): CarObject[] {
  return [
    { cid: block.id, bytes: block.header.bytes },
    { cid: block.header.data.txs, bytes: block.txList },
    ...block.txs.map(tx => ({ cid: tx.id, bytes: tx.bytes }))
  ]
}

/** A transaction list's CIDs. */
export function decodeTxList (bytes: Uint8Array): CID[] {
  return read.array(decodeCanonical(bytes, 'transaction list'), 'transaction list', MAX_LIST_ITEMS).map((v, n) => read.cid(v, `transaction list[${n}]`))
}

/**
 * The whole blocks a CAR holds, in its order, as they are complete (one block
 * is held at a time). Every object must hash to its CID and come where its
 * block calls for it; the first that does not, or a file that ends early,
 * throws a CarError naming it (at the object's place in the file): the blocks
 * yielded before it are whole and checked, nothing after it is read.
 */
export async function * readCarBlocks (source: AsyncIterable<Uint8Array>): AsyncGenerator<Block> {
  let objects: AsyncIterable<{ cid: CID, bytes: Uint8Array }>
  try {
    objects = await CarBlockIterator.fromIterable(source)
  } catch (err) {
    throw carFailure(err, 'its header')
  }
  let header: Header | undefined
  let list: CID[] | undefined
  let txs: Tx[] = []
  let n = 0
  const iterator = objects[Symbol.asyncIterator]()
  for (;;) {
    let next: IteratorResult<{ cid: CID, bytes: Uint8Array }>
    try {
      next = await iterator.next()
    } catch (err) {
      throw carFailure(err, `object ${n + 1}`)
    }
    if (next.done === true) break
    const { cid, bytes } = next.value
    n++
    const where = `object ${n} (${cid.toString()})`
    if (cid.multihash.code !== 0x12 || !equalBytes(sha256(bytes), cid.multihash.digest) || !equalBytes(cidOf(bytes).bytes, cid.bytes)) {
      throw new CarError('BAD_HASH', `${where} does not hash to its CID: the file is damaged or was altered`)
    }
    try {
      if (header === undefined) {
        header = Header.fromBytes(bytes)
      } else if (list === undefined) {
        const listId = header.data.txs
        if (!equalBytes(cid.bytes, listId.bytes)) throw new CarError('UNEXPECTED_OBJECT', `${where}: block ${header.idString} calls for its transaction list ${listId.toString()}`)
        list = decodeTxList(bytes)
      } else {
        const wanted = list[txs.length]
        if (!equalBytes(cid.bytes, wanted.bytes)) throw new CarError('UNEXPECTED_OBJECT', `${where}: block ${header.idString} calls for its transaction ${wanted.toString()}`)
        txs.push(Tx.fromBytes(bytes))
      }
    } catch (err) {
      if (err instanceof CarError) throw err
      throw new CarError('UNEXPECTED_OBJECT', `${where} is not the ${header === undefined ? 'block header' : list === undefined ? 'transaction list' : 'transaction'} a block calls for: ${(err as Error).message}`)
    }
    if (list !== undefined && txs.length === list.length) {
      yield new Block(header, txs)
      header = undefined
      list = undefined
      txs = []
    }
  }
  if (header !== undefined) throw new CarError('TRUNCATED', `the file ends inside block ${header.idString} (${list === undefined ? 'no transaction list' : `${txs.length} of ${list.length} transactions`})`)
}

function carFailure (err: unknown, where: string): CarError {
  const message = (err as Error).message
  if (/unexpected end/i.test(message)) return new CarError('TRUNCATED', `the file ends inside ${where}: ${message}`)
  return new CarError('BAD_CAR', `not a CAR v1 file at ${where}: ${message}`)
}
