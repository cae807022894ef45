import { Level } from 'level'
import { Block, Header } from '../core/block.ts'
import { cidOf, decodeCbor, read, type CID } from '../core/cbor.ts'
import type { Coin } from '../core/rules.ts'
import { Tx } from '../core/tx.ts'
import {
  blockstoreKey, blockstoreKeyOfDigest, decodeCoin, decodeIndexRecord, decodeUndo, encodeCoin, encodeIndexValue, encodeUndo,
  indexKey, type IndexRecord, StoreError
} from './records.ts'

export interface UtxoStats {
  txouts: number
  total: bigint
}

/** A whole UTXO state to write as one atomic batch: the changes of one or more tip moves since the last write. */
export interface StateWrite {
  /** Coins to add, then coins to delete. */
  put: Array<[string, Coin]>
  del: string[]
  /** Undo data by block: the coins it spent, or undefined to delete it (the block was disconnected). */
  undo: Array<{ digest: Uint8Array, spent: Array<[string, Coin]> | undefined }>
  tipDigest: Uint8Array
  stats: UtxoStats
}

/** A read view of the database at one moment. */
export type Snapshot = ReturnType<Level<string, Uint8Array>['snapshot']>

/** The database and its sublevels, made by open(): a Level opens itself once made, and a store must not touch the disk before open(). */
function openDatabase (path: string) {
  const db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
  return {
    db,
    index: db.sublevel<Uint8Array, Uint8Array>('i', { keyEncoding: 'view', valueEncoding: 'view' }),
    utxo: db.sublevel<string, Uint8Array>('u', { keyEncoding: 'utf8', valueEncoding: 'view' }),
    undo: db.sublevel<Uint8Array, Uint8Array>('r', { keyEncoding: 'view', valueEncoding: 'view' }),
    meta: db.sublevel<string, Uint8Array>('m', { keyEncoding: 'utf8', valueEncoding: 'view' })
  }
}

/**
 * LevelDB layout. Root keys "/<base32 multihash>" are blockstore-level's, holding
 * every IPLD block (headers, transaction lists, transactions) by CID. Sublevels:
 * i (block index), u (UTXO set), r (undo data), m (tip, stats, network).
 */
export class ChainStore {
  readonly path: string
  #open: ReturnType<typeof openDatabase> | undefined

  constructor (path: string) {
    this.path = path
  }

  /** The LevelDB database, between open() and close(). */
  get db (): Level<string, Uint8Array> {
    return this.#parts.db
  }

  get #parts (): ReturnType<typeof openDatabase> {
    if (this.#open === undefined) throw new StoreError('NOT_OPEN', `the chain database at ${this.path} is not open`)
    return this.#open
  }

  async open (): Promise<void> {
    const parts = openDatabase(this.path)
    try {
      await parts.db.open()
    } catch (err) {
      const cause = (err as { cause?: Error }).cause?.message ?? (err as Error).message
      throw new StoreError('DB_OPEN_FAILED', `cannot open the chain database at ${this.path}: ${cause}`)
    }
    this.#open = parts
  }

  async close (): Promise<void> {
    const parts = this.#open
    this.#open = undefined
    await parts?.db.close()
  }

  /** Stores a block's IPLD objects and its index record in one batch. */
  async putBlock (block: Block, record: IndexRecord): Promise<void> {
    // A chained batch: for a block's thousands of puts, far cheaper in abstract-level than an array of operations.
    const { db, index } = this.#parts
    const batch = db.batch()
    batch.put(blockstoreKey(block.id), block.header.bytes)
    batch.put(blockstoreKey(cidOf(block.txList)), block.txList)
    for (let t = 0; t < block.txs.length; t++) batch.put(blockstoreKeyOfDigest(block.txs[t].digest), block.txs[t].bytes)
    batch.put(indexKey(record.height, record.digest), encodeIndexValue(record), { sublevel: index })
    await batch.write()
  }

  /** The database as it is now, to read from later (dropBlockBody); close it when done. */
  snapshot (): Snapshot {
    return this.#parts.db.snapshot()
  }

  /**
   * Deletes a block's transaction list and the transactions that `before` (a
   * snapshot taken just before putBlock) did not hold: what the block brought,
   * none of it shared with another stored block. Its header and index record stay.
   */
  async dropBlockBody (block: Block, before: Snapshot): Promise<void> {
    const { db } = this.#parts
    const keys = [blockstoreKey(cidOf(block.txList))]
    for (let t = 0; t < block.txs.length; t++) keys.push(blockstoreKeyOfDigest(block.txs[t].digest))
    const held = await db.hasMany(keys, { snapshot: before })
    const batch = db.batch()
    for (let n = 0; n < keys.length; n++) if (!held[n]) batch.del(keys[n])
    await batch.write()
  }

  async putIndexRecord (record: IndexRecord): Promise<void> {
    await this.#parts.index.put(indexKey(record.height, record.digest), encodeIndexValue(record))
  }

  async loadIndex (): Promise<IndexRecord[]> {
    const records: IndexRecord[] = []
    for await (const [key, value] of this.#parts.index.iterator()) records.push(decodeIndexRecord(key, value))
    return records
  }

  async getRaw (cid: CID): Promise<Uint8Array | undefined> {
    return await this.#parts.db.get(blockstoreKey(cid))
  }

  async getHeaders (cids: CID[]): Promise<Uint8Array[]> {
    const values = await this.#parts.db.getMany(cids.map(blockstoreKey))
    return values.map((v, n) => {
      if (v === undefined) throw new StoreError('MISSING_BLOCK', `header ${cids[n].toString()} is not stored`)
      return v
    })
  }

  async getBlock (cid: CID): Promise<Block | undefined> {
    const [raw] = await this.getBlocksParts([cid])
    if (raw === undefined) return undefined
    try {
      return new Block(Header.fromBytes(raw.header), raw.txs.map(bytes => Tx.fromBytes(bytes)))
    } catch (err) {
      throw new StoreError('CORRUPT_BLOCK', `stored block ${cid.toString()}: ${(err as Error).message}`)
    }
  }

  /**
   * Blocks' header and transaction bytes as stored, not decoded (for serving
   * peers), for the first of `cids` up to the first not stored. Three reads in
   * all: the headers, their transaction lists, then every transaction.
   */
  async getBlocksParts (cids: CID[]): Promise<Array<{ header: Uint8Array, txs: Uint8Array[] }>> {
    const stored = await this.#parts.db.getMany(cids.map(blockstoreKey))
    const missing = stored.findIndex(v => v === undefined)
    const headers = (missing < 0 ? stored : stored.slice(0, missing)) as Uint8Array[]
    const corrupt = (n: number, err: unknown): StoreError => err instanceof StoreError ? err : new StoreError('CORRUPT_BLOCK', `stored block ${cids[n].toString()}: ${(err as Error).message}`)
    const listIds = headers.map((header, n) => {
      try {
        return read.cid(read.object(decodeCbor(header, 'header'), 'header').txs, 'header.txs')
      } catch (err) {
        throw corrupt(n, err)
      }
    })
    const lists = await this.#parts.db.getMany(listIds.map(blockstoreKey))
    const txIds = lists.map((list, n) => {
      try {
        if (list === undefined) throw new StoreError('MISSING_BLOCK', `transaction list of ${cids[n].toString()}`)
        return read.array(decodeCbor(list, 'transaction list'), 'transaction list', Number.MAX_SAFE_INTEGER).map((v, i) => read.cid(v, `txs[${i}]`))
      } catch (err) {
        throw corrupt(n, err)
      }
    })
    const txs = await this.#parts.db.getMany(txIds.flat().map(blockstoreKey))
    let at = 0
    return headers.map((header, n) => ({
      header,
      txs: txIds[n].map(id => {
        const bytes = txs[at++]
        if (bytes === undefined) throw new StoreError('MISSING_BLOCK', `transaction ${id.toString()}`)
        return bytes
      })
    }))
  }

  async getTx (cid: CID): Promise<Tx | undefined> {
    const bytes = await this.getRaw(cid)
    if (bytes === undefined) return undefined
    try {
      return Tx.fromBytes(bytes)
    } catch (err) {
      throw new StoreError('CORRUPT_BLOCK', `stored transaction ${cid.toString()}: ${(err as Error).message}`)
    }
  }

  /** The coin of each key, in the keys' order (undefined: no such coin), as LevelDB's getMany answers. */
  async getCoins (keys: string[]): Promise<Array<Coin | undefined>> {
    if (keys.length === 0) return []
    const values = await this.#parts.utxo.getMany(keys)
    return values.map(v => v === undefined ? undefined : decodeCoin(v))
  }

  async * coins (): AsyncGenerator<[string, Coin]> {
    for await (const [key, value] of this.#parts.utxo.iterator()) yield [key, decodeCoin(value)]
  }

  async getUndo (digest: Uint8Array): Promise<Array<[string, Coin]>> {
    const bytes = await this.#parts.undo.get(digest)
    if (bytes === undefined) throw new StoreError('MISSING_UNDO', 'undo data of a connected block is missing')
    return decodeUndo(bytes)
  }

  /** UTXO changes, undo data, tip and stats in one atomic batch, so a crash leaves the old or the new state whole. */
  async writeState (u: StateWrite): Promise<void> {
    const { db, utxo, undo, meta } = this.#parts
    const batch = db.batch()
    for (const [key, coin] of u.put) batch.put(key, encodeCoin(coin), { sublevel: utxo })
    for (const key of u.del) batch.del(key, { sublevel: utxo })
    for (const { digest, spent } of u.undo) {
      if (spent === undefined) batch.del(digest, { sublevel: undo })
      else batch.put(digest, encodeUndo(spent), { sublevel: undo })
    }
    batch.put('tip', u.tipDigest, { sublevel: meta })
    batch.put('stats', encodeStats(u.stats), { sublevel: meta })
    await batch.write()
  }

  async getMeta (key: string): Promise<Uint8Array | undefined> {
    return await this.#parts.meta.get(key)
  }

  async putMeta (key: string, value: Uint8Array): Promise<void> {
    await this.#parts.meta.put(key, value)
  }

  async getStats (): Promise<UtxoStats> {
    const v = await this.#parts.meta.get('stats')
    if (v === undefined) return { txouts: 0, total: 0n }
    if (v.length !== 16) throw new StoreError('CORRUPT_META', 'UTXO statistics record of the wrong size')
    const view = new DataView(v.buffer, v.byteOffset, v.byteLength)
    return { txouts: Number(view.getBigUint64(0)), total: view.getBigUint64(8) }
  }
}

function encodeStats (s: UtxoStats): Uint8Array {
  const v = new Uint8Array(16)
  const view = new DataView(v.buffer)
  view.setBigUint64(0, BigInt(s.txouts))
  view.setBigUint64(8, s.total)
  return v
}
