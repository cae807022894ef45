import { EventEmitter } from 'node:events'
import { mkdir, rename, statfs } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { Level } from 'level'
import { Block, Header } from '../core/block.ts'
import { cidOf, decodeCbor, read, type CID } from '../core/cbor.ts'
import { equalBytes, sha256 } from '../core/hash.ts'
import { isNoSpace, writeFailure } from '../util/disk-usage.ts'
import type { Coin } from '../core/rules.ts'
import { Tx } from '../core/tx.ts'
import { readMarker, writeMarker, markerPath, type DbMarker } from './db-marker.ts'
import { findDbDamage, hasDbFiles, lockHolder, readableEntries, type DbDamage } from './leveldb-files.ts'
import {
  blockstoreKey, blockstoreKeyOfDigest, decodeCoin, decodeIndexRecord, decodeUndo, encodeCoin, encodeIndexValue, encodeUndo,
  indexKey, type IndexRecord, StoreError
} from './records.ts'
import { blocksSublevel, ChainBlockstore } from './chain-blockstore.ts'
import type { LevelDbCache } from './cache-sizes.ts'

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

export interface ChainStoreInit {
  /** The chain the database must hold (its marker beside it says which). */
  marker: DbMarker
  /** Whether a flush (writeState) reaches the disk before it returns (fsync), so a power cut keeps it (default true). */
  syncFlushes?: boolean
  /** Free bytes on the database's file system below which nothing more is written (default 50 MB, as Bitcoin Core). */
  minFreeBytes?: number
  /**
   * Bytes kept free on top of minFreeBytes for what the node writes beside the
   * chain when it stops (mempool.dat): a halt for want of space leaves room for
   * it, as Bitcoin Core's flush asks for room for the coins it writes.
   */
  reserveBytes?: () => number
  /** LevelDB's block cache and write buffer (default LevelDB's: 8 MiB and 4 MiB; see cache-sizes.ts). */
  leveldb?: LevelDbCache
}

export interface ChainStoreEvents {
  /** A write failed, or was refused for want of space: nothing more is written, the chain cannot go on. */
  'write:failed': [StoreError]
}

export const DEFAULT_MIN_FREE_BYTES = 50 * 1024 * 1024
/** How often block writes check the free space; flushes always do. */
const SPACE_CHECK_MS = 250

/** What a damaged database's refusal tells the user to do. */
export const REMEDY = 'start with --reindex to rebuild it from the stored blocks (damaged blocks are synced again from peers), or restore the datadir from a backup'

/** Damage found while starting, with what to do about it (a record that did not parse says only what it is). */
export function withRemedy (err: unknown): unknown {
  if (!(err instanceof StoreError) || !err.code.startsWith('CORRUPT_') || err.message.includes('--reindex')) return err
  return new StoreError(err.code, `${err.message.slice(err.code.length + 2)} in the chain database; ${REMEDY}`)
}

/** The database and its sublevels, made by open(): a Level opens itself once made, and a store must not touch the disk before open(). */
function openDatabase (path: string, createIfMissing: boolean, cache: LevelDbCache | undefined) {
  const db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view', createIfMissing, ...cache })
  const blocks = blocksSublevel(db)
  return {
    db,
    blocks,
    blockstore: new ChainBlockstore(blocks),
    invalid: db.sublevel<Uint8Array, Uint8Array>('x', { keyEncoding: 'view', valueEncoding: 'view' }),
    index: db.sublevel<Uint8Array, Uint8Array>('i', { keyEncoding: 'view', valueEncoding: 'view' }),
    utxo: db.sublevel<string, Uint8Array>('u', { keyEncoding: 'utf8', valueEncoding: 'view' }),
    undo: db.sublevel<Uint8Array, Uint8Array>('r', { keyEncoding: 'view', valueEncoding: 'view' }),
    meta: db.sublevel<string, Uint8Array>('m', { keyEncoding: 'utf8', valueEncoding: 'view' })
  }
}

/**
 * LevelDB layout, in sublevels: b (the blockstore: every IPLD block — header,
 * transaction list, transaction — of the stored blocks not found invalid, under
 * blockstore-level's key "/B<base32 multihash>", and nothing else), x (headers
 * of blocks found invalid, by digest), i (block index), u (UTXO set), r (undo
 * data), m (tip, stats, network, layout). One LevelDB, so a block's objects and
 * its index record land in one atomic batch. Datadirs made before kept the
 * blocks at the root (see blockstore-layout.ts).
 */
export class ChainStore extends EventEmitter<ChainStoreEvents> {
  readonly path: string
  readonly #init: ChainStoreInit
  readonly #minFreeBytes: number
  #open: ReturnType<typeof openDatabase> | undefined
  #marked = false
  #spaceCheckedAt = 0
  #failed: StoreError | undefined

  constructor (path: string, init: ChainStoreInit) {
    super()
    this.path = path
    this.#init = init
    this.#minFreeBytes = init.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES
  }

  /** The LevelDB database, between open() and close(). */
  get db (): Level<string, Uint8Array> {
    return this.#parts.db
  }

  /** Bytes LevelDB holds in memory now: its block cache's contents and write buffers (leveldb.approximate-memory-usage). */
  get leveldbMemoryBytes (): number {
    return Number(this.#classic.getProperty('leveldb.approximate-memory-usage'))
  }

  /** The chain's blocks as an interface-blockstore Blockstore (for IPFS users), between open() and close(). */
  get blockstore (): ChainBlockstore {
    return this.#parts.blockstore
  }

  /** In Node, level's Level is classic-level's ClassicLevel, whose types add LevelDB's own calls. */
  get #classic (): ClassicLevel<string, Uint8Array> {
    return this.#parts.db as unknown as ClassicLevel<string, Uint8Array>
  }

  get #parts (): ReturnType<typeof openDatabase> {
    if (this.#open === undefined) throw new StoreError('NOT_OPEN', `the chain database at ${this.path} is not open`)
    return this.#open
  }

  /**
   * Opens the database, refusing one that is damaged or missing where its
   * marker says a chain was kept (LevelDB, finding no CURRENT, would make a new
   * database and delete the old tables). Only an absent database is created.
   * With `salvage` (--reindex), damaged tables go aside to lost/ and LevelDB's
   * repair rebuilds the rest; returns the damage found then.
   */
  async open (opts: { salvage?: boolean } = {}): Promise<DbDamage[]> {
    const { marker } = this.#init
    const found = await readMarker(this.path)
    if (found !== undefined && found.genesis !== marker.genesis) {
      throw new StoreError('WRONG_NETWORK', found.network === marker.network
        // The same name with another genesis: coints 0.2 started lan anew (a new difficulty rule).
        ? `the database at ${this.path} holds an older ${found.network} chain (genesis ${found.genesis}, coints 0.1's); this ${marker.network} has genesis ${marker.genesis}: move it away or give another --datadir`
        : `the database at ${this.path} belongs to the ${found.network} network (genesis ${found.genesis}), not to ${marker.network}`)
    }
    this.#marked = found !== undefined
    await this.#checkSpace()
    const holder = await lockHolder(this.path)
    if (holder !== undefined) throw new StoreError('DB_OPEN_FAILED', `the chain database at ${this.path} is in use by process ${holder} (another node on this datadir?)`)
    const exists = await hasDbFiles(this.path)
    let damage: DbDamage[] = []
    let salvaged: Array<[string, Uint8Array]> = []
    if (exists || found !== undefined) damage = await findDbDamage(this.path)
    if (damage.length > 0 && opts.salvage === true && exists) {
      salvaged = await this.#salvage(damage)
    } else if (damage.length > 0 && opts.salvage !== true) {
      const more = damage.length > 1 ? ` (and ${damage.length - 1} more damaged file${damage.length > 2 ? 's' : ''})` : ''
      const what = found === undefined ? '' : `, which ${markerPath(this.path)} says holds the ${found.network} chain,`
      throw new StoreError('CORRUPT_DB', `the chain database at ${this.path}${what} is damaged: ${damage[0].file} ${damage[0].problem}${more}; ${REMEDY}`)
    }
    const parts = openDatabase(this.path, !exists, this.#init.leveldb)
    try {
      await parts.db.open()
    } catch (err) {
      const cause = (err as { cause?: Error }).cause ?? (err as Error)
      if (isNoSpace(cause)) throw new StoreError('DISK_FULL', `cannot open the chain database at ${this.path}: the disk is full (${cause.message}); free some space and start again`)
      const code = (cause as { code?: string }).code === 'LEVEL_CORRUPTION' ? 'CORRUPT_DB' : 'DB_OPEN_FAILED'
      throw new StoreError(code, `cannot open the chain database at ${this.path}: ${cause.message}${code === 'CORRUPT_DB' ? `; ${REMEDY}` : ''}`)
    }
    this.#open = parts
    if (salvaged.length > 0) {
      const batch = parts.db.batch()
      for (const [key, value] of salvaged) batch.put(key, value, { sublevel: parts.blocks })
      await this.#write('putting back the blocks of damaged tables', () => batch.write({ sync: true }))
    }
    return damage
  }

  /**
   * Moves damaged tables to lost/ and has LevelDB rebuild its MANIFEST from the
   * rest. Returns the stored blocks still readable in the damaged tables (in
   * data blocks whose checksums pass, hashing to their keys), to put back: only
   * what sat in a damaged block is lost, to be synced again.
   */
  async #salvage (damage: DbDamage[]): Promise<Array<[string, Uint8Array]>> {
    const lost = join(this.path, 'lost')
    await mkdir(lost, { recursive: true })
    const salvaged: Array<[string, Uint8Array]> = []
    for (const { file, problem } of damage) {
      if (!/\.(?:ldb|sst)$/.test(file) || problem === 'is missing') continue
      for (const { key, value } of await readableEntries(join(this.path, file))) {
        // In the blockstore sublevel, or at the root where datadirs made before kept it: put back into the blockstore.
        const text = Buffer.from(key).toString('latin1').replace(/^!b!/, '')
        if (text.startsWith('/B') && blockstoreKeyOfDigest(sha256(value)) === text) salvaged.push([text, new Uint8Array(value)])
      }
      await rename(join(this.path, file), join(lost, `${file}.damaged`))
    }
    try {
      await ClassicLevel.repair(this.path)
    } catch (err) {
      throw new StoreError('CORRUPT_DB', `LevelDB cannot repair the chain database at ${this.path}: ${(err as Error).message}; restore the datadir from a backup, or remove it and ${markerPath(this.path)} to sync a new copy from peers`)
    }
    const left = await findDbDamage(this.path)
    if (left.length > 0) throw new StoreError('CORRUPT_DB', `the chain database at ${this.path} is still damaged after its repair: ${left[0].file} ${left[0].problem}; restore the datadir from a backup, or remove it and ${markerPath(this.path)} to sync a new copy from peers`)
    return salvaged
  }

  /** Writes the marker once the database holds its chain (a datadir made before markers gets one on its next start). */
  async markCreated (): Promise<void> {
    if (this.#marked) return
    await writeMarker(this.path, this.#init.marker)
    this.#marked = true
  }

  async close (): Promise<void> {
    const parts = this.#open
    this.#open = undefined
    await parts?.db.close()
  }

  /** Stores a block's IPLD objects and its index record in one batch. */
  async putBlock (block: Block, record: IndexRecord): Promise<void> {
    if (Date.now() - this.#spaceCheckedAt > SPACE_CHECK_MS) await this.#checkSpace()
    // A chained batch: for a block's thousands of puts, far cheaper in abstract-level than an array of operations.
    const { db, blocks, index } = this.#parts
    const batch = db.batch()
    batch.put(blockstoreKey(block.id), block.header.bytes, { sublevel: blocks })
    batch.put(blockstoreKey(cidOf(block.txList)), block.txList, { sublevel: blocks })
    for (let t = 0; t < block.txs.length; t++) batch.put(blockstoreKeyOfDigest(block.txs[t].digest), block.txs[t].bytes, { sublevel: blocks })
    batch.put(indexKey(record.height, record.digest), encodeIndexValue(record), { sublevel: index })
    await this.#write(`storing block ${record.height}`, () => batch.write())
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
    const { blocks } = this.#parts
    const keys = [blockstoreKey(cidOf(block.txList))]
    for (let t = 0; t < block.txs.length; t++) keys.push(blockstoreKeyOfDigest(block.txs[t].digest))
    const held = await this.#read('reading a block before it', blocks.hasMany(keys, { snapshot: before }))
    await this.deleteBlocks(keys.filter((_, n) => !held[n]))
  }

  /** Deletes IPLD blocks from the blockstore by key (blockstoreKey), in one batch. */
  async deleteBlocks (keys: string[]): Promise<void> {
    if (keys.length === 0) return
    const { db, blocks } = this.#parts
    const batch = db.batch()
    for (const key of keys) batch.del(key, { sublevel: blocks })
    await this.#write('dropping blocks from the blockstore', () => batch.write())
  }

  /**
   * Writes index records marked invalid and moves those blocks' headers out of
   * the blockstore (to x, where getblock still finds them), in one batch. A
   * header already moved stays where it is.
   */
  async markInvalid (records: IndexRecord[]): Promise<void> {
    if (records.length === 0) return
    const { db, blocks, invalid, index } = this.#parts
    const keys = records.map(r => blockstoreKeyOfDigest(r.digest))
    const headers = await this.#read('reading invalid blocks', blocks.getMany(keys))
    const batch = db.batch()
    records.forEach((record, n) => {
      batch.put(indexKey(record.height, record.digest), encodeIndexValue(record), { sublevel: index })
      const header = headers[n]
      if (header === undefined) return
      batch.put(record.digest, header, { sublevel: invalid })
      batch.del(keys[n], { sublevel: blocks })
    })
    await this.#write('marking blocks invalid', () => batch.write())
  }

  /** The header of a block marked invalid (checked against its id), if kept. */
  async getInvalidHeader (cid: CID): Promise<Uint8Array | undefined> {
    const bytes = await this.#read(`reading ${cid.toString()}`, this.#parts.invalid.get(cid.multihash.digest))
    if (bytes !== undefined) checkContent(cid, bytes)
    return bytes
  }

  /**
   * The blockstore keys of blocks' transaction lists and of the transactions
   * those lists name (none where the list is not stored), from their headers.
   */
  async bodyKeys (headers: Uint8Array[]): Promise<Array<{ list: string, txs: string[] }>> {
    const listIds = headers.map(header => listIdOf(header))
    const lists = await this.#read('reading transaction lists', this.#parts.blocks.getMany(listIds.map(blockstoreKey)))
    return lists.map((list, n) => ({
      list: blockstoreKey(listIds[n]),
      txs: list === undefined ? [] : txIdsOf(list).map(blockstoreKey)
    }))
  }

  async loadIndex (): Promise<IndexRecord[]> {
    const records: IndexRecord[] = []
    await this.#read('reading the block index', (async () => {
      for await (const [key, value] of this.#parts.index.iterator()) records.push(decodeIndexRecord(key, value))
    })())
    return records
  }

  /** A stored IPLD block's bytes, checked against its CID (the content address is its checksum). */
  async getRaw (cid: CID): Promise<Uint8Array | undefined> {
    const bytes = await this.#read(`reading ${cid.toString()}`, this.#parts.blocks.get(blockstoreKey(cid)))
    if (bytes !== undefined) checkContent(cid, bytes)
    return bytes
  }

  /** Headers of indexed blocks: one not stored is damage. */
  async getHeaders (cids: CID[]): Promise<Uint8Array[]> {
    const values = await this.#read('reading headers', this.#parts.blocks.getMany(cids.map(blockstoreKey)))
    return values.map((v, n) => {
      if (v === undefined) throw new StoreError('CORRUPT_BLOCK', `the header of indexed block ${cids[n].toString()} is not stored; ${REMEDY}`)
      checkContent(cids[n], v)
      return v
    })
  }

  async getBlock (cid: CID): Promise<Block | undefined> {
    const [block] = await this.getBlocks([cid])
    return block
  }

  /** Blocks, decoded, for the first of `cids` up to the first not stored: three reads in all (see getBlocksParts). */
  async getBlocks (cids: CID[]): Promise<Block[]> {
    return (await this.getBlocksParts(cids)).map((raw, n) => {
      try {
        return new Block(Header.fromBytes(raw.header), raw.txs.map(bytes => Tx.fromBytes(bytes)))
      } catch (err) {
        throw new StoreError('CORRUPT_BLOCK', `stored block ${cids[n].toString()}: ${(err as Error).message}`)
      }
    })
  }

  /**
   * Blocks' header and transaction bytes as stored, not decoded (for serving
   * peers), for the first of `cids` up to the first not stored. Three reads in
   * all: the headers, their transaction lists, then every transaction.
   */
  async getBlocksParts (cids: CID[]): Promise<Array<{ header: Uint8Array, txs: Uint8Array[] }>> {
    const { blocks } = this.#parts
    const stored = await this.#read('reading blocks', blocks.getMany(cids.map(blockstoreKey)))
    const missing = stored.findIndex(v => v === undefined)
    const headers = (missing < 0 ? stored : stored.slice(0, missing)) as Uint8Array[]
    const corrupt = (n: number, err: unknown): StoreError => err instanceof StoreError ? err : new StoreError('CORRUPT_BLOCK', `stored block ${cids[n].toString()}: ${(err as Error).message}; ${REMEDY}`)
    const listIds = headers.map((header, n) => {
      try {
        checkContent(cids[n], header)
        return listIdOf(header)
      } catch (err) {
        throw corrupt(n, err)
      }
    })
    const lists = await this.#read('reading transaction lists', blocks.getMany(listIds.map(blockstoreKey)))
    const txIds = lists.map((list, n) => {
      try {
        if (list === undefined) throw new Error('its transaction list is not stored')
        checkContent(listIds[n], list)
        return txIdsOf(list)
      } catch (err) {
        throw corrupt(n, err)
      }
    })
    const txs = await this.#read('reading transactions', blocks.getMany(txIds.flat().map(blockstoreKey)))
    let at = 0
    return headers.map((header, n) => ({
      header,
      txs: txIds[n].map(id => {
        const bytes = txs[at++]
        try {
          if (bytes === undefined) throw new Error(`its transaction ${id.toString()} is not stored`)
          checkContent(id, bytes)
        } catch (err) {
          throw corrupt(n, err)
        }
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
    const values = await this.#read('reading coins', this.#parts.utxo.getMany(keys))
    return values.map(v => v === undefined ? undefined : decodeCoin(v))
  }

  async * coins (): AsyncGenerator<[string, Coin]> {
    const iterator = this.#parts.utxo.iterator()
    try {
      for (;;) {
        const entry = await this.#read('reading the UTXO set', iterator.next())
        if (entry === undefined) return
        yield [entry[0], decodeCoin(entry[1])]
      }
    } finally {
      await iterator.close()
    }
  }

  async getUndo (digest: Uint8Array): Promise<Array<[string, Coin]>> {
    const bytes = await this.#read('reading undo data', this.#parts.undo.get(digest))
    if (bytes === undefined) throw new StoreError('CORRUPT_UNDO', `the undo data of a connected block is missing; ${REMEDY}`)
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
    await this.#checkSpace()
    // Synced: the flush that moves the tip on disk must survive a power cut; block writes between flushes are fetched again if lost.
    await this.#write('writing the UTXO set', () => batch.write({ sync: this.#init.syncFlushes ?? true }))
  }

  async getMeta (key: string): Promise<Uint8Array | undefined> {
    return await this.#read(`reading ${key}`, this.#parts.meta.get(key))
  }

  /** Rare, and what the chain's identity rests on (network, reindex state): synced. */
  async putMeta (key: string, value: Uint8Array): Promise<void> {
    const { db, meta } = this.#parts
    await this.#write(`writing ${key}`, () => db.batch().put(key, value, { sublevel: meta }).write({ sync: true }))
  }

  async delMeta (key: string): Promise<void> {
    const { db, meta } = this.#parts
    await this.#write(`writing ${key}`, () => db.batch().del(key, { sublevel: meta }).write({ sync: true }))
  }

  /**
   * Starts a reindex: the block index, UTXO set, undo data and tip go, the
   * blocks stay. A flag kept until endReindex() has a start after a crash
   * begin it again.
   */
  async beginReindex (): Promise<void> {
    await this.putMeta('reindex', new Uint8Array([1]))
    const { index, invalid, utxo, undo } = this.#parts
    // Invalid headers go with the index that marked them: a block seen again is judged again.
    for (const sublevel of [index, invalid, utxo, undo]) await this.#write('clearing the chain state', () => sublevel.clear())
    for (const key of ['tip', 'stats', 'network']) await this.delMeta(key)
  }

  async endReindex (): Promise<void> {
    await this.delMeta('reindex')
  }

  /** Every stored header (blockstore values that are 7-key maps), or, for one that does not hash to its key, that key. */
  async * headers (): AsyncGenerator<Header | { damaged: string }> {
    const iterator = this.#parts.blocks.iterator()
    try {
      for (;;) {
        const entry = await this.#read('reading stored blocks', iterator.next())
        if (entry === undefined) return
        const [key, bytes] = entry
        if (bytes[0] !== 0xa7) continue
        let header: Header | undefined
        try {
          header = Header.fromBytes(bytes)
        } catch {}
        if (header !== undefined && blockstoreKey(header.id) === key) yield header
        else yield { damaged: key }
      }
    } finally {
      await iterator.close()
    }
  }

  /**
   * How many IPLD blocks sit at the database's root, where datadirs made before
   * the blockstore had a sublevel kept them (blockstore-level's keys "/B…";
   * sublevels' keys begin with "!"). With `limit`, counts no further.
   */
  async countRootBlocks (limit = Infinity): Promise<number> {
    const iterator = this.#parts.db.keys({ ...ROOT_BLOCKS, limit })
    let count = 0
    try {
      for (;;) {
        const keys = await this.#read('reading stored blocks', iterator.nextv(1_000))
        if (keys.length === 0) return count
        count += keys.length
      }
    } finally {
      await iterator.close()
    }
  }

  /**
   * Moves root blocks after the key `after` (from the first when undefined)
   * into the blockstore, at most `maxObjects` or about `maxBytes`, in one
   * atomic batch that copies and deletes together: a kill at any moment leaves
   * each block in one place or the other, never in neither. Returns how many
   * moved and the last key (to start after next), or moved 0 when none are left.
   */
  async moveRootBlocks (after: string | undefined, maxObjects: number, maxBytes = 4 * 1024 * 1024): Promise<{ moved: number, last: string | undefined }> {
    const { db, blocks } = this.#parts
    const iterator = db.iterator(after === undefined ? ROOT_BLOCKS : { gt: after, lt: ROOT_BLOCKS.lt })
    const batch = db.batch()
    let moved = 0
    let bytes = 0
    let last: string | undefined
    try {
      while (moved < maxObjects && bytes < maxBytes) {
        const entry = await this.#read('reading stored blocks', iterator.next())
        if (entry === undefined) break
        const [key, value] = entry
        batch.put(key, value, { sublevel: blocks })
        batch.del(key)
        moved++
        bytes += key.length + value.length
        last = key
      }
    } finally {
      await iterator.close()
    }
    if (moved === 0) {
      await batch.close()
      return { moved, last }
    }
    await this.#checkSpace()
    await this.#write('moving blocks into the blockstore', () => batch.write())
    return { moved, last }
  }

  /** Has LevelDB rewrite the root's old block keys away (deleted keys stay on disk, as tombstones, until compacted). */
  async compactRootBlocks (): Promise<void> {
    const db = this.#classic
    await this.#write('compacting the moved blocks away', () => db.compactRange(ROOT_BLOCKS.gte, ROOT_BLOCKS.lt))
  }

  async getStats (): Promise<UtxoStats> {
    const v = await this.getMeta('stats')
    if (v === undefined) return { txouts: 0, total: 0n }
    if (v.length !== 16) throw new StoreError('CORRUPT_META', 'UTXO statistics record of the wrong size')
    const view = new DataView(v.buffer, v.byteOffset, v.byteLength)
    return { txouts: Number(view.getBigUint64(0)), total: view.getBigUint64(8) }
  }

  /** A read's failure: LevelDB's corruption is damage to report (never "not found"). */
  async #read<T> (what: string, op: Promise<T>): Promise<T> {
    try {
      return await op
    } catch (err) {
      if (err instanceof StoreError) throw err
      if ((err as { code?: string }).code === 'LEVEL_CORRUPTION') throw new StoreError('CORRUPT_DB', `${what} from ${this.path}: ${(err as Error).message}; ${REMEDY}`)
      throw err
    }
  }

  /**
   * A write's failure (no space, an I/O error) leaves the chain unable to go on:
   * the owner is told, once, and nothing more is written (LevelDB would append
   * after the torn record a failed write left in its log).
   */
  async #write<T> (what: string, op: () => Promise<T>): Promise<T> {
    if (this.#failed !== undefined) throw this.#failed
    try {
      return await op()
    } catch (err) {
      const { code, message } = writeFailure(`${what} in ${this.path}`, err, 'it resumes from its last flush')
      throw this.#fail(new StoreError(code, message))
    }
  }

  /** Refuses to write below the free-space threshold (Bitcoin Core stops at 50 MB too): a full disk would fail writes half-way. */
  async #checkSpace (): Promise<void> {
    if (this.#failed !== undefined) throw this.#failed
    this.#spaceCheckedAt = Date.now()
    if (this.#minFreeBytes <= 0) return
    const fs = await statfs(dirname(this.path))
    const free = fs.bavail * fs.bsize
    const reserve = this.#init.reserveBytes?.() ?? 0
    if (free >= this.#minFreeBytes + reserve) return
    const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MB`
    const plus = reserve >= 100 * 1024 ? ` and the ${mb(reserve)} it writes as it stops (mempool.dat)` : ''
    throw this.#fail(new StoreError('DISK_FULL', `only ${mb(free)} free on the disk of ${this.path}, below the ${mb(this.#minFreeBytes)} the node keeps free (--min-free-mb)${plus}: free some space and start the node again: it resumes from its last flush`))
  }

  #fail (err: StoreError): StoreError {
    if (this.#failed !== undefined) return this.#failed
    // Only while open: a start refused for want of space has nobody to stop.
    if (this.#open !== undefined) {
      this.#failed = err
      this.emit('write:failed', err)
    }
    return err
  }
}

/** The root's range of blockstore-level keys: "/B" and base32. */
const ROOT_BLOCKS = { gte: '/B', lt: '/C' } as const

/** The transaction list a header links (throws DecodeError if it is no header). */
function listIdOf (header: Uint8Array): CID {
  return read.cid(read.object(decodeCbor(header, 'header'), 'header').txs, 'header.txs')
}

function txIdsOf (list: Uint8Array): CID[] {
  return read.array(decodeCbor(list, 'transaction list'), 'transaction list', Number.MAX_SAFE_INTEGER).map((v, i) => read.cid(v, `txs[${i}]`))
}

/** A stored object's bytes must hash to its id. */
function checkContent (cid: CID, bytes: Uint8Array): void {
  if (!equalBytes(sha256(bytes), cid.multihash.digest)) throw new StoreError('CORRUPT_BLOCK', `stored ${cid.toString()} does not hash to its id; ${REMEDY}`)
}

function encodeStats (s: UtxoStats): Uint8Array {
  const v = new Uint8Array(16)
  const view = new DataView(v.buffer)
  view.setBigUint64(0, BigInt(s.txouts))
  view.setBigUint64(8, s.total)
  return v
}
