import { ADDRESS_HASH_BYTES } from '../core/address.ts'
import type { Coin } from '../core/rules.ts'
import { toHex } from '../core/hash.ts'
import type { ChainStore, UtxoStats } from './store.ts'

/** What connecting or disconnecting one block changes. */
export interface TipMove {
  /** Coins created (connect) or restored (disconnect). */
  put: Array<[string, Coin]>
  /** Coins spent (connect) or removed (disconnect). */
  del: string[]
  /** The block's undo data: the coins it spent, to keep; undefined when the block is disconnected. */
  undo: { digest: Uint8Array, spent: Array<[string, Coin]> | undefined }
  tipDigest: Uint8Array
  stats: UtxoStats
}

export interface CoinsCacheInit {
  /** Changed coins held before a flush is due (0: every tip move is flushed). */
  maxDirty?: number
  /** Longest a change waits for its flush, so a crash replays little. */
  maxAgeMs?: number
  /** Coins kept in memory after a flush; above it, the cache starts empty again. */
  maxEntries?: number
}

/**
 * The UTXO set in front of LevelDB, as Bitcoin Core's dbcache: coins read once
 * stay in memory, blocks connect and disconnect against memory, and the changes
 * of many blocks reach LevelDB as one batch together with their undo data, tip
 * and statistics. The database so always holds the whole state of the last
 * flush; after a crash the chain connects its stored blocks past it again.
 * A coin created and spent between two flushes never reaches the disk.
 */
export class CoinsCache {
  readonly #store: ChainStore
  readonly #maxDirty: number
  readonly #maxEntries: number
  readonly #maxAgeMs: number
  /** When the first change since the last flush was made. */
  #changedAt = 0
  /** Cached coins; undefined marks one spent since the last flush, to delete then. */
  readonly #coins = new Map<string, Coin | undefined>()
  readonly #dirty = new Set<string>()
  /** Dirty coins that are not on disk: spending one just forgets it. */
  readonly #fresh = new Set<string>()
  /** Undo data since the last flush, by block digest: spent coins to store, or undefined to delete. */
  readonly #undo = new Map<string, TipMove['undo']>()
  #tip: Uint8Array | undefined
  /** Counts flushes: a read that spans one may be older than what the flush removed. */
  #flushes = 0
  #stats: UtxoStats = { txouts: 0, total: 0n }

  constructor (store: ChainStore, init: CoinsCacheInit = {}) {
    this.#store = store
    this.#maxDirty = init.maxDirty ?? 50_000
    this.#maxEntries = init.maxEntries ?? 200_000
    this.#maxAgeMs = init.maxAgeMs ?? 60_000
  }

  async load (): Promise<void> {
    this.#stats = await this.#store.getStats()
  }

  get stats (): UtxoStats { return this.#stats }
  /** Tip moves since the last flush, or none. */
  get unflushed (): boolean { return this.#tip !== undefined }
  get flushDue (): boolean {
    return this.unflushed && (this.#dirty.size > this.#maxDirty || this.#maxDirty === 0 || Date.now() - this.#changedAt > this.#maxAgeMs)
  }

  async getCoins (keys: string[]): Promise<Map<string, Coin>> {
    const found = new Map<string, Coin>()
    const missing: string[] = []
    for (const key of keys) {
      if (!this.#coins.has(key)) missing.push(key)
      else {
        const coin = this.#coins.get(key)
        if (coin !== undefined) found.set(key, coin)
      }
    }
    if (missing.length === 0) return found
    const flushes = this.#flushes
    const stored = await this.#store.getCoins(missing)
    for (let n = 0; n < missing.length; n++) {
      const key = missing[n]
      const coin = stored[n]
      if (coin === undefined) continue
      // A tip move while reading wins: it is newer than the disk.
      if (!this.#coins.has(key) && flushes === this.#flushes) this.#coins.set(key, coin)
      const current = this.#coins.has(key) ? this.#coins.get(key) : coin
      if (current !== undefined) found.set(key, current)
    }
    this.#trim()
    return found
  }

  apply (move: TipMove): void {
    // A coin decoded from a block views the block's bytes: held as it is, every
    // cached coin would keep its whole block alive. Their addresses move to one
    // buffer of this move's own.
    const { put, del } = move
    const addresses = new Uint8Array(put.length * ADDRESS_HASH_BYTES)
    let at = 0
    // Indexed loops, no destructuring: in a loop run once a block, V8 makes an iterator object per element of those.
    for (let n = 0; n < put.length; n++) {
      const key = put[n][0]
      const coin = put[n][1]
      addresses.set(coin.address, at)
      const held: Coin = { amount: coin.amount, address: addresses.subarray(at, at += ADDRESS_HASH_BYTES), height: coin.height, coinbase: coin.coinbase }
      if (!this.#coins.has(key)) this.#fresh.add(key)
      this.#coins.set(key, held)
      this.#dirty.add(key)
    }
    for (let n = 0; n < del.length; n++) {
      const key = del[n]
      if (this.#fresh.delete(key)) {
        this.#coins.delete(key)
        this.#dirty.delete(key)
      } else {
        this.#coins.set(key, undefined)
        this.#dirty.add(key)
      }
    }
    this.#undo.set(toHex(move.undo.digest), move.undo)
    if (this.#tip === undefined) this.#changedAt = Date.now()
    this.#tip = move.tipDigest
    this.#stats = move.stats
  }

  async getUndo (digest: Uint8Array): Promise<Array<[string, Coin]>> {
    const pending = this.#undo.get(toHex(digest))
    if (pending?.spent !== undefined) return pending.spent
    return await this.#store.getUndo(digest)
  }

  /** Writes every change since the last flush in one atomic batch. */
  async flush (): Promise<void> {
    const tipDigest = this.#tip
    if (tipDigest === undefined) return
    const put: Array<[string, Coin]> = []
    const del: string[] = []
    for (const key of this.#dirty) {
      const coin = this.#coins.get(key)
      if (coin === undefined) del.push(key)
      else put.push([key, coin])
    }
    await this.#store.writeState({ put, del, undo: [...this.#undo.values()], tipDigest, stats: this.#stats })
    this.#flushes++
    for (const key of del) this.#coins.delete(key)
    this.#dirty.clear()
    this.#fresh.clear()
    this.#undo.clear()
    this.#tip = undefined
    this.#trim()
  }

  /** Above maxEntries, forgets the clean coins (the disk has them); changed ones stay until their flush. */
  #trim (): void {
    if (this.#coins.size <= this.#maxEntries) return
    if (this.#dirty.size === 0) this.#coins.clear()
    else for (const key of this.#coins.keys()) if (!this.#dirty.has(key)) this.#coins.delete(key)
  }
}
