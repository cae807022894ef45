/**
 * What the writes that keep the mempool and a wallet's payments across a full
 * disk or a power cut cost: mempool.dat written a second after a change (a
 * small pool) and every 5 minutes for a full one (64 MB), each write's time,
 * the longest it held the event loop and the share of the time it takes at
 * that pace; and a payment's history batch synced (fsync) against the same
 * batch unsynced, alternated.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { encodeMempoolFile, saveDelayMs } from '../src/chain/mempool-file.ts'
import type { MempoolEntry } from '../src/chain/types.ts'
import { encodeCbor } from '../src/core/cbor.ts'
import { sha256 } from '../src/core/hash.ts'
import { genesisBlock } from '../src/core/params.ts'
import { Tx, TX_VERSION } from '../src/core/tx.ts'
import { createLogger } from '../src/log.ts'
import { writeFileAtomic } from '../src/util/atomic-file.ts'
import { HistoryStore } from '../src/wallet/wallet-store.ts'
import { regtest } from './fixtures.ts'
import { median } from '../src/util/stats.ts'

/** `count` pool entries of a 300-byte transaction each: only their bytes and time are written. */
function entries (count: number): MempoolEntry[] {
  const bytes = new Uint8Array(300).fill(1)
  return Array.from({ length: count }, (_, n) => ({ time: 1_800_000_000 + n, tx: { bytes } }) as unknown as MempoolEntry)
}

/**
 * ms to encode and write the file atomically (fsync included), and the longest
 * the event loop was held meanwhile (monitorEventLoopDelay's max, 1 ms resolution).
 */
async function mempoolWrite (path: string, pool: MempoolEntry[], runs: number): Promise<{ bytes: number, writeMs: number, loopMs: number }> {
  const genesis = genesisBlock(regtest).id.bytes
  const writes: number[] = []
  const loops: number[] = []
  let bytes = 0
  for (let i = 0; i < runs; i++) {
    const delay = monitorEventLoopDelay({ resolution: 1 })
    delay.enable()
    const start = performance.now()
    const file = await encodeMempoolFile(genesis, pool)
    await writeFileAtomic(path, file)
    writes.push(performance.now() - start)
    delay.disable()
    loops.push(delay.max / 1e6)
    bytes = file.length
  }
  return { bytes, writeMs: median(writes), loopMs: median(loops) }
}

export interface StopWritesBench {
  smallPool: { bytes: number, writeMs: number, loopMs: number, delayMs: number, share: number }
  fullPool: { bytes: number, writeMs: number, loopMs: number, delayMs: number, share: number }
  /** Baseline: @ipld/dag-cbor's encoding of the full pool and its SHA-256, in one go on the loop (the encoding before). */
  fullPoolDagCborMs: number
  historyUnsyncedMs: number
  historySyncedMs: number
  syncedRatio: number
}

export async function benchStopWrites (runs = 5): Promise<StopWritesBench> {
  const dir = await mkdtemp(join(tmpdir(), 'coints-bench-stop-'))
  try {
    const path = join(dir, 'mempool.dat')
    const small = await mempoolWrite(path, entries(10), runs * 4)
    const fullEntries = entries(Math.floor(64_000_000 / 300))
    const full = await mempoolWrite(path, fullEntries, runs)
    const dagCbor: number[] = []
    for (let i = 0; i < runs; i++) {
      const start = performance.now()
      sha256(encodeCbor({ version: 1, genesis: genesisBlock(regtest).id.bytes, txs: fullEntries.map(e => [e.time, e.tx.bytes]) }))
      dagCbor.push(performance.now() - start)
    }
    const pace = (w: { bytes: number, writeMs: number, loopMs: number }): StopWritesBench['smallPool'] => {
      const delayMs = saveDelayMs(w.bytes)
      return { ...w, delayMs, share: w.writeMs / delayMs }
    }

    // A payment's batch: a transaction of about 300 bytes and the change address derived.
    const history = new HistoryStore(join(dir, 'wallet-history'), createLogger('bench'))
    await history.open()
    const tx = Tx.create({ version: TX_VERSION, height: 1, inputs: [], outputs: Array.from({ length: 8 }, () => ({ amount: 1n, address: new Uint8Array(20) })) })
    const unsynced: number[] = []
    const synced: number[] = []
    for (let i = 0; i < runs * 8; i++) {
      for (const [sync, times] of [[false, unsynced], [true, synced]] as const) {
        const start = performance.now()
        await history.write({ put: [{ tx, height: null, time: i }], del: [], addresses: [{ branch: 1, index: i, hash: new Uint8Array(20).fill(i & 0xff) }] }, { sync })
        times.push(performance.now() - start)
      }
    }
    await history.close()
    const historyUnsyncedMs = median(unsynced)
    const historySyncedMs = median(synced)
    return { smallPool: pace(small), fullPool: pace(full), fullPoolDagCborMs: median(dagCbor), historyUnsyncedMs, historySyncedMs, syncedRatio: historySyncedMs / historyUnsyncedMs }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

if (import.meta.main) console.log(JSON.stringify(await benchStopWrites(), null, 2))
