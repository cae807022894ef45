import type { CoinsCacheInit } from './coins-cache.ts'

/**
 * The memory the chain's database caches may use, split from one figure
 * (--dbcache, in MiB) as Bitcoin Core's CalculateCacheSizes splits -dbcache:
 * part to LevelDB (its block cache and write buffers), the rest to the coins
 * held in memory in front of it.
 */

/** A coin held by CoinsCache: its key string, entry, Coin with its amount and address view, its map slot (docs/performance.md, Memory). */
export const COIN_ENTRY_BYTES = 430
/** 100 MiB gives the sizes coints had before the flag: LevelDB's defaults (8 MiB cache, 4 MiB write buffer) and some 200,000 coins. */
export const DEFAULT_DBCACHE_MB = 100
/** Bitcoin Core's floor (nMinDbCache). */
export const MIN_DBCACHE_MB = 4
export const MAX_DBCACHE_MB = 65_536
/** LevelDB's share stops growing here: its block cache serves the tip's few blocks, the coins cache is what saves reads. */
const MAX_LEVELDB_BYTES = 16 * 1024 * 1024

export interface LevelDbCache {
  /** LevelDB's LRU cache of uncompressed table blocks. */
  cacheSize: number
  /** The memtable's size before it is written to a table; two may be held at once (one being written). */
  writeBufferSize: number
}

export interface CacheSizes {
  leveldb: LevelDbCache
  coins: Required<Pick<CoinsCacheInit, 'maxEntries' | 'maxDirty'>>
}

export function cacheSizes (dbcacheMb: number): CacheSizes {
  const total = Math.min(Math.max(dbcacheMb, MIN_DBCACHE_MB), MAX_DBCACHE_MB) * 1024 * 1024
  const leveldb = Math.min(total / 2, MAX_LEVELDB_BYTES)
  const coins = Math.floor((total - leveldb) / COIN_ENTRY_BYTES)
  return {
    // As Core's CDBWrapper: half the share to the block cache, a quarter to each of the two write buffers.
    leveldb: { cacheSize: leveldb / 2, writeBufferSize: leveldb / 4 },
    // A flush is due once a quarter of the cache is changed coins (50,000 of 200,000 before the flag).
    coins: { maxEntries: coins, maxDirty: Math.floor(coins / 4) }
  }
}
