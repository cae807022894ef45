/**
 * What storage safety costs, each against its baseline in the same run: the
 * import rate with synced flushes against unsynced ones (with the default UTXO
 * cache, and with a flush after every block, the worst case), and a start with
 * 10,000 blocks against the time its checks take (LevelDB's checksums over
 * every file, the last 6 blocks against the UTXO set; and all blocks, --checkblocks 0);
 * and the first start after an upgrade from 0.1.0 (the same chain in its
 * layout, the blocks moved into the blockstore) against the next start.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findDbDamage } from '../src/chain/leveldb-files.ts'
import type { Block } from '../src/core/block.ts'
import type { Logger } from '../src/log.ts'
import { buildChain, type ChainOptions } from '../src/node/build-chain.ts'
import { chainDatadir, regtest, toOldLayout } from './fixtures.ts'
import { median } from '../src/util/stats.ts'

/** Blocks per second importing `blocks` into a fresh chain. */
async function importRate (blocks: Block[], init: Partial<ChainOptions>): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'coints-bench-import-'))
  const { chain } = buildChain({ params: regtest, dbPath: join(dir, 'chain'), ...init })
  try {
    await chain.start()
    const start = performance.now()
    for (const block of blocks) await chain.processBlock(block)
    await chain.flush()
    return blocks.length / ((performance.now() - start) / 1000)
  } finally {
    await chain.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

/** ms of a chain's start on `dbPath`, and of its block check as it logs it. */
async function startOnce (dbPath: string, checkBlocks?: number): Promise<{ startMs: number, blockCheckMs: number }> {
  let blockCheckMs = NaN
  const logger: Logger = {
    debug (msg: string) { const m = /^start check: \d+ blocks verified in (\d+) ms/.exec(msg); if (m !== null) blockCheckMs = Number(m[1]) },
    info () {},
    warn () {},
    error () {}
  }
  const { chain } = buildChain({ params: regtest, dbPath, checkBlocks }, { logger })
  const start = performance.now()
  await chain.start()
  const startMs = performance.now() - start
  await chain.stop()
  return { startMs, blockCheckMs }
}

export interface StorageBench {
  importUnsynced: number
  importSynced: number
  syncedRatio: number
  importEachBlockUnsynced: number
  importEachBlockSynced: number
  eachBlockSyncedRatio: number
  startMs: number
  fileCheckMs: number
  blockCheckMs: number
  /** Share of the start the checks take. */
  checkShare: number
  checkAllBlocksMs: number
  /** Objects of the 10,000 blocks moved at the first start after an upgrade from 0.1.0. */
  migratedObjects: number
  migrationStartMs: number
  nextStartMs: number
  /** The first start after the upgrade over the next one. */
  migrationRatio: number
}

export async function benchStorage (runs = 3): Promise<StorageBench> {
  const { datadir, blocks } = await chainDatadir(10_000)
  const dbPath = join(datadir, 'chain')
  try {
    const first = blocks.slice(0, 3_000)
    const few = blocks.slice(0, 500)
    const rates = { unsynced: [] as number[], synced: [] as number[], eachUnsynced: [] as number[], eachSynced: [] as number[] }
    // Alternated, so the machine's load falls on both alike.
    for (let i = 0; i < runs; i++) {
      rates.unsynced.push(await importRate(first, { syncFlushes: false }))
      rates.synced.push(await importRate(first, {}))
      rates.eachUnsynced.push(await importRate(few, { syncFlushes: false, coinsCache: { maxDirty: 0 } }))
      rates.eachSynced.push(await importRate(few, { coinsCache: { maxDirty: 0 } }))
    }
    const starts: Array<{ startMs: number, blockCheckMs: number }> = []
    const fileChecks: number[] = []
    for (let i = 0; i < runs; i++) {
      const t = performance.now()
      await findDbDamage(dbPath)
      fileChecks.push(performance.now() - t)
      starts.push(await startOnce(dbPath))
    }
    const all = await startOnce(dbPath, 0)
    const upgrades: Array<{ objects: number, firstMs: number, nextMs: number }> = []
    for (let i = 0; i < runs; i++) {
      const old = join(datadir, `old-${i}`)
      await cp(dbPath, old, { recursive: true })
      const objects = (await toOldLayout(old)).blocks.size
      const first = await startOnce(old)
      upgrades.push({ objects, firstMs: first.startMs, nextMs: (await startOnce(old)).startMs })
    }
    const migrationStartMs = median(upgrades.map(u => u.firstMs))
    const nextStartMs = median(upgrades.map(u => u.nextMs))
    const startMs = median(starts.map(s => s.startMs))
    const fileCheckMs = median(fileChecks)
    const blockCheckMs = median(starts.map(s => s.blockCheckMs))
    const importUnsynced = median(rates.unsynced)
    const importSynced = median(rates.synced)
    const importEachBlockUnsynced = median(rates.eachUnsynced)
    const importEachBlockSynced = median(rates.eachSynced)
    return {
      importUnsynced,
      importSynced,
      syncedRatio: importSynced / importUnsynced,
      importEachBlockUnsynced,
      importEachBlockSynced,
      eachBlockSyncedRatio: importEachBlockSynced / importEachBlockUnsynced,
      startMs,
      fileCheckMs,
      blockCheckMs,
      checkShare: (fileCheckMs + blockCheckMs) / startMs,
      checkAllBlocksMs: all.blockCheckMs,
      migratedObjects: upgrades[0].objects,
      migrationStartMs,
      nextStartMs,
      migrationRatio: median(upgrades.map(u => u.firstMs / u.nextMs))
    }
  } finally {
    await rm(datadir, { recursive: true, force: true })
  }
}

if (import.meta.main) console.log(JSON.stringify(await benchStorage(), null, 2))
