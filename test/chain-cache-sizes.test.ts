/**
 * --dbcache's split of the database caches' memory (cache-sizes.ts) and that
 * each share takes effect: LevelDB opened with its block cache and write
 * buffer, the coins cache flushing at its bound; and signatures verified on
 * the calling thread with no worker (--verifier-threads 0).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { cacheSizes, DEFAULT_DBCACHE_MB, MIN_DBCACHE_MB } from '../src/chain/cache-sizes.ts'
import { ChainStore, type ChainStoreInit, type StateWrite } from '../src/chain/store.ts'
import { genesisBlock } from '../src/core/params.ts'
import { chainWorkspace, mineBlocks, newKey, outputOf, regtest, spendTx, watchWrites } from './helpers/chain-harness.ts'

const MiB = 1024 * 1024

test('--dbcache splits as Bitcoin Core\'s -dbcache: the default gives the sizes of before, small ones shrink every share, 4 MiB at least', () => {
  const before = cacheSizes(DEFAULT_DBCACHE_MB)
  // LevelDB's own defaults, and the coins cache's 200,000 entries and 50,000 changes, within 3 %.
  assert.deepEqual(before.leveldb, { cacheSize: 8 * MiB, writeBufferSize: 4 * MiB })
  assert.ok(Math.abs(before.coins.maxEntries / 200_000 - 1) < 0.03, String(before.coins.maxEntries))
  assert.ok(Math.abs(before.coins.maxDirty / 50_000 - 1) < 0.03, String(before.coins.maxDirty))
  const small = cacheSizes(MIN_DBCACHE_MB)
  assert.deepEqual(small.leveldb, { cacheSize: 1 * MiB, writeBufferSize: MiB / 2 })
  assert.ok(small.coins.maxEntries > 4_000 && small.coins.maxEntries < 5_000, String(small.coins.maxEntries))
  assert.deepEqual(cacheSizes(1), small, 'below the floor is the floor')
  // LevelDB's share stops at 16 MiB; the rest of a larger figure goes to the coins.
  const large = cacheSizes(1_000)
  assert.deepEqual(large.leveldb, before.leveldb)
  assert.ok(large.coins.maxEntries > 10 * before.coins.maxEntries)
})

test('the chain database is opened with its share: LevelDB holds no more than its cache and write buffers however much is written and read', async t => {
  const ws = await chainWorkspace(t)
  const marker = { network: regtest.name, genesis: genesisBlock(regtest).idString }
  /** LevelDB's memory after writing 3 MiB of values one by one and reading them all back. */
  const afterTraffic = async (name: string, init: Partial<ChainStoreInit>): Promise<number> => {
    const store = new ChainStore(ws.dbPath(name), { marker, ...init })
    await store.open()
    try {
      const keys = Array.from({ length: 384 }, (_, i) => `bulk-${i}`)
      for (const key of keys) await store.db.put(key, randomBytes(8 * 1024))
      for (const key of keys) assert.equal((await store.db.get(key))?.length, 8 * 1024)
      return store.leveldbMemoryBytes
    } finally {
      await store.close()
    }
  }
  const { leveldb } = cacheSizes(MIN_DBCACHE_MB)
  const bounded = await afterTraffic('small', { leveldb })
  const unbounded = await afterTraffic('default', {})
  // The default write buffer (4 MiB) still holds all 3 MiB; the small one has gone to tables, whose blocks the 1 MiB cache holds in part.
  assert.ok(unbounded > 3 * MiB, `LevelDB's defaults hold ${unbounded} bytes`)
  assert.ok(bounded <= leveldb.cacheSize + 2 * leveldb.writeBufferSize, `${bounded} bytes with a ${leveldb.cacheSize}-byte cache and ${leveldb.writeBufferSize}-byte write buffers`)
})

test('the coins\' share bounds the changed coins held before a flush, and --verifier-threads 0 verifies with no worker thread', async t => {
  const ws = await chainWorkspace(t)
  const key = newKey()
  const outputs = cacheSizes(MIN_DBCACHE_MB).coins.maxDirty + 100
  /** How many UTXO writes connecting a block of one transaction with `outputs` outputs makes. */
  const flushesOfWideBlock = async (name: string, dbcacheMb: number | undefined): Promise<number> => {
    const writes: StateWrite[] = []
    const chain = await ws.open({ name, dbcacheMb, verifierThreads: 0, store: watchWrites(write => { writes.push(write) }) })
    const blocks = await mineBlocks(chain, ws.clock, chain.params.coinbaseMaturity + 1, key.addressHash)
    const coin = outputOf(blocks[0].txs[0])
    const wide = spendTx(chain, [coin], key, { outputs: Array.from({ length: outputs }, () => ({ amount: (coin.amount - 100_000n) / BigInt(outputs), address: key.addressHash })) })
    await chain.acceptTx(wide)
    assert.equal(chain.verifier.running, 0, 'its signature verified with no worker started')
    assert.equal(chain.verifier.has(wide.idString), true)
    const before = writes.length
    await mineBlocks(chain, ws.clock, 1, key.addressHash)
    return writes.length - before
  }
  assert.equal(await flushesOfWideBlock('small', MIN_DBCACHE_MB), 1, `${outputs} new coins are more than ${MIN_DBCACHE_MB} MiB's share holds changed`)
  assert.equal(await flushesOfWideBlock('default', undefined), 0, 'the default share holds them until the next flush')
})
