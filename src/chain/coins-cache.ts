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

/** Where a cached coin stands against the disk. */
const EntryState = {
  /** As on disk. */
  CLEAN: 0,
  /** Changed since the last flush. */
  DIRTY: 1,
  /** Changed and not on disk at all: spending it just forgets it. */
  FRESH: 2
} as const
type EntryState = typeof EntryState[keyof typeof EntryState]

/** A cached coin, or (coin undefined) one spent since the last flush, to delete then. */
interface CacheEntry {
  coin: Coin | undefined
  state: EntryState
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
  /** Cached coins with their state in one entry: a block's thousands of coins cost one map lookup each. */
  readonly #coins = new Map<string, CacheEntry>()
  /** Entries not CLEAN. */
  #dirty = 0
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
    return this.unflushed && (this.#dirty > this.#maxDirty || this.#maxDirty === 0 || Date.now() - this.#changedAt > this.#maxAgeMs)
  }

  async getCoins (keys: string[]): Promise<Map<string, Coin>> {
    const found = new Map<string, Coin>()
    const missing: string[] = []
    for (let n = 0; n < keys.length; n++) {
      const entry = this.#coins.get(keys[n])
      if (entry === undefined) missing.push(keys[n])
      else if (entry.coin !== undefined) found.set(keys[n], entry.coin)
    }
    if (missing.length === 0) return found
    const flushes = this.#flushes
    const stored = await this.#store.getCoins(missing)
    for (let n = 0; n < missing.length; n++) {
      const key = missing[n]
      const coin = stored[n]
      if (coin === undefined) continue
      // A tip move while reading wins: it is newer than the disk.
      const entry = this.#coins.get(key)
      if (entry === undefined) {
        if (flushes === this.#flushes) this.#coins.set(key, { coin, state: EntryState.CLEAN })
        found.set(key, coin)
      } else if (entry.coin !== undefined) {
        found.set(key, entry.coin)
      }
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
      const entry = this.#coins.get(key)
      if (entry === undefined) {
        this.#coins.set(key, { coin: held, state: EntryState.FRESH })
        this.#dirty++
      } else {
        entry.coin = held
        this.#markDirty(entry)
      }
    }
    for (let n = 0; n < del.length; n++) {
      const key = del[n]
      const entry = this.#coins.get(key)
      if (entry === undefined) {
        this.#coins.set(key, { coin: undefined, state: EntryState.DIRTY })
        this.#dirty++
      } else if (entry.state === EntryState.FRESH) {
        this.#coins.delete(key)
        this.#dirty--
      } else {
        entry.coin = undefined
        this.#markDirty(entry)
      }
    }
    this.#undo.set(toHex(move.undo.digest), move.undo)
    if (this.#tip === undefined) this.#changedAt = Date.now()
    this.#tip = move.tipDigest
    this.#stats = move.stats
  }

  #markDirty (entry: CacheEntry): void {
    if (entry.state !== EntryState.CLEAN) return
    entry.state = EntryState.DIRTY
    this.#dirty++
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
    const written: CacheEntry[] = []
    // The whole cache is walked: flushes are rare, a block's lookups are not.
    for (const [key, entry] of this.#coins) {
      if (entry.state === EntryState.CLEAN) continue
      if (entry.coin === undefined) del.push(key)
      else put.push([key, entry.coin])
      written.push(entry)
    }
    await this.#store.writeState({ put, del, undo: [...this.#undo.values()], tipDigest, stats: this.#stats })
    this.#flushes++
    for (const key of del) this.#coins.delete(key)
    for (const entry of written) entry.state = EntryState.CLEAN
    this.#dirty = 0
    this.#undo.clear()
    this.#tip = undefined
    this.#trim()
  }

  /** Above maxEntries, forgets the clean coins (the disk has them); changed ones stay until their flush. */
  #trim (): void {
    if (this.#coins.size <= this.#maxEntries) return
    if (this.#dirty === 0) this.#coins.clear()
    else for (const [key, entry] of this.#coins) if (entry.state === EntryState.CLEAN) this.#coins.delete(key)
  }
}
