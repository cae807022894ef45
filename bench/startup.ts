/** Start-up to RPC-ready with 10,000 blocks on disk against 1,000, and the idle node's resident memory. */
import { rm } from 'node:fs/promises'
import { median } from './stats.ts'
import { chainDatadir, spawnNode } from './fixtures.ts'
import { residentMemoryMb } from '../src/util/resident-memory.ts'

/** Starts a node on the datadir; returns ms until RPC answers and the RSS after `idleMs` idle. */
async function startOnce (datadir: string, idleMs: number): Promise<{ readyMs: number, rssMb: number }> {
  const node = await spawnNode(datadir)
  try {
    await new Promise(resolve => setTimeout(resolve, idleMs))
    return { readyMs: node.readyMs, rssMb: await residentMemoryMb(node.pid) ?? NaN }
  } finally {
    await node.stop()
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

if (import.meta.main) console.log(JSON.stringify(await benchStartup(), null, 2))
