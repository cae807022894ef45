/** Start-up to RPC-ready with 10,000 blocks on disk against 1,000, and the idle node's resident memory. */
import { spawn } from 'node:child_process'
import { readFile, rm } from 'node:fs/promises'
import { freePort } from '../src/util/free-port.ts'
import { callRpc } from '../src/rpc/client.ts'
import { median } from './stats.ts'
import { chainDatadir } from './fixtures.ts'
import { NODE_RUNTIME_FLAGS } from '../src/node/runtime-flags.ts'

const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname

/** Spawns a node on the datadir; returns ms until RPC answers and the RSS after `idleMs` idle. */
async function startOnce (datadir: string, idleMs: number): Promise<{ readyMs: number, rssMb: number }> {
  const port = await freePort()
  const start = performance.now()
  const child = spawn(process.execPath, [...NODE_RUNTIME_FLAGS, MAIN, 'node', '--network', 'regtest', '--datadir', datadir, '--rpc-port', String(port), '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'warn'], { stdio: 'ignore' })
  try {
    for (;;) {
      try {
        await callRpc({ datadir, port }, 'getblockchaininfo')
        break
      } catch {
        if (performance.now() - start > 60_000) throw new Error('node did not start')
        await new Promise(resolve => setTimeout(resolve, 5))
      }
    }
    const readyMs = performance.now() - start
    await new Promise(resolve => setTimeout(resolve, idleMs))
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8')
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN)
    return { readyMs, rssMb: rssKb / 1024 }
  } finally {
    const exited = new Promise(resolve => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
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
