/**
 * Start-up to RPC-ready with 10,000 blocks on disk against 1,000, and the idle
 * node's resident memory; then with a wallet, 20,000 blocks against 2,000.
 */
import { rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { median } from '../src/util/stats.ts'
import { chainDatadir, spawnNode } from './fixtures.ts'
import { residentMemoryMb } from '../src/util/resident-memory.ts'
import { waitFor } from '../src/util/wait-for.ts'
import { WALLET_FILE } from '../src/wallet/wallet.ts'
import { HISTORY_DIR } from '../src/wallet/wallet-store.ts'

/** Starts a node on the datadir; returns ms until RPC answers and the RSS after `idleMs` idle. */
async function startOnce (datadir: string, idleMs: number): Promise<{ readyMs: number, rssMb: number }> {
  const { host, readyMs } = await spawnNode(datadir)
  try {
    await new Promise(resolve => setTimeout(resolve, idleMs))
    return { readyMs, rssMb: await residentMemoryMb(host.pid as number) ?? NaN }
  } finally {
    await host.stop()
  }
}

export interface StartupBench { ready1kMs: number, ready10kMs: number, ratio: number, idleRss10kMb: number }

export async function benchStartup (runs = 3): Promise<StartupBench> {
  const small = await chainDatadir(1_000)
  const large = await chainDatadir(10_000)
  try {
    const r1: number[] = []
    const r10: number[] = []
    let rss = 0
    for (let i = 0; i < runs; i++) {
      r1.push((await startOnce(small.datadir, 0)).readyMs)
      const big = await startOnce(large.datadir, i === runs - 1 ? 3_000 : 0)
      r10.push(big.readyMs)
      rss = big.rssMb
    }
    const ready1kMs = median(r1)
    const ready10kMs = median(r10)
    return { ready1kMs, ready10kMs, ratio: ready10kMs / ready1kMs, idleRss10kMb: rss }
  } finally {
    await rm(small.datadir, { recursive: true, force: true })
    await rm(large.datadir, { recursive: true, force: true })
  }
}

export interface WalletStartupBench {
  ready2kMs: number
  ready20kMs: number
  ratio: number
  /** The same starts with the wallet file moved away: what the chain alone costs. */
  withoutWallet: { ready2kMs: number, ready20kMs: number, ratio: number }
  /** 20,000 blocks, the wallet's history gone (a restore, or a wallet from before it kept one): RPC-ready, then the background scan done. */
  noHistory20k: { readyMs: number, scannedMs: number }
}

/**
 * A miner's wallet: every 10th block pays it, at a new address each (2,000
 * transactions and addresses at 20,000 blocks). Restarts with its history up
 * to date, alternated with the same without the wallet, then one with the
 * history gone.
 */
export async function benchWalletStartup (runs = 3): Promise<WalletStartupBench> {
  const small = await chainDatadir(2_000, { walletEvery: 10 })
  const large = await chainDatadir(20_000, { walletEvery: 10 })
  try {
    const r2: number[] = []
    const r20: number[] = []
    const bare2: number[] = []
    const bare20: number[] = []
    const withoutWallet = async (datadir: string): Promise<number> => {
      const file = join(datadir, WALLET_FILE)
      await rename(file, `${file}.away`)
      try {
        return (await startOnce(datadir, 0)).readyMs
      } finally {
        await rename(`${file}.away`, file)
      }
    }
    for (let i = 0; i < runs; i++) {
      r2.push((await startOnce(small.datadir, 0)).readyMs)
      r20.push((await startOnce(large.datadir, 0)).readyMs)
      bare2.push(await withoutWallet(small.datadir))
      bare20.push(await withoutWallet(large.datadir))
    }
    await rm(join(large.datadir, HISTORY_DIR), { recursive: true })
    const started = performance.now()
    const { host: node, readyMs } = await spawnNode(large.datadir)
    try {
      await waitFor(async () => await node.rpc('getbalance').then(() => true, (err: { code?: string }) => {
        if (err.code !== 'WALLET_SCANNING') throw err
        return false
      }), 'the wallet scan', 600_000, 5)
      const ready2kMs = median(r2)
      const ready20kMs = median(r20)
      const bare = { ready2kMs: median(bare2), ready20kMs: median(bare20) }
      return {
        ready2kMs,
        ready20kMs,
        ratio: ready20kMs / ready2kMs,
        withoutWallet: { ...bare, ratio: bare.ready20kMs / bare.ready2kMs },
        noHistory20k: { readyMs, scannedMs: performance.now() - started }
      }
    } finally {
      await node.stop()
    }
  } finally {
    await rm(small.datadir, { recursive: true, force: true })
    await rm(large.datadir, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await benchStartup(), null, 2))
  console.log(JSON.stringify(await benchWalletStartup(), null, 2))
}
