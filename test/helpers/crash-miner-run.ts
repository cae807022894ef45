/** Runs test/fixtures/crash-miner.ts and kills it at a chosen moment: the crash and power-loss tests. */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const NODE = fileURLToPath(new URL('../../node_modules/.bin/node', import.meta.url))
const MINER = fileURLToPath(new URL('../fixtures/crash-miner.ts', import.meta.url))
const PROGRESS_DEADLINE_MS = 20_000

export interface RoundLog { ready: number, lastBlockHeight: number, blocks: number, reorgs: number, doubleSpends: number, txs: number }

/**
 * Runs the miner until it has printed `killAfter` block lines, waits `delayMs`
 * more (so the kill lands anywhere in its work, mid-block or mid-reorganisation),
 * SIGKILLs it and returns what it printed up to its death.
 */
export async function runAndKill (children: Set<ChildProcess>, dbPath: string, killAfter: number, delayMs: number, minerArgs: string[] = []): Promise<RoundLog> {
  const child = spawn(NODE, [MINER, dbPath, ...minerArgs], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  const exited = once(child, 'exit')
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const closed = once(lines, 'close')
  const log: RoundLog = { ready: -1, lastBlockHeight: -1, blocks: 0, reorgs: 0, doubleSpends: 0, txs: 0 }
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`no progress within ${PROGRESS_DEADLINE_MS} ms; stderr: ${stderr}`)) }, PROGRESS_DEADLINE_MS)
      child.once('exit', code => { clearTimeout(timer); reject(new Error(`the miner exited by itself (${code}); stderr: ${stderr}`)) })
      lines.on('line', line => {
        const [kind, a, b, c] = line.split(' ')
        if (kind === 'ready') log.ready = Number(a)
        else if (kind === 'tx') log.txs++
        else if (kind === 'reorg') { log.reorgs++; log.doubleSpends += Number(c) }
        else if (kind === 'block') {
          assert.ok(b !== undefined)
          log.lastBlockHeight = Number(a)
          if (++log.blocks === killAfter) { clearTimeout(timer); resolve() }
        }
      })
    })
    if (delayMs > 0) await new Promise(resolve => setTimeout(resolve, delayMs))
  } finally {
    child.kill('SIGKILL')
    await exited
    // Every line written before the kill is still in the pipe.
    await closed
    children.delete(child)
  }
  return log
}

/** SIGKILLs the children a test still runs and waits for each to exit (its after-hook). */
export async function killAll (children: Set<ChildProcess>): Promise<void> {
  for (const child of children) {
    child.kill('SIGKILL')
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit')
  }
}

/** mulberry32: a kill pattern reproducible from the seed in the failure messages. */
export function seededRandom (seed: number): (n: number) => number {
  let state = seed
  return n => {
    state = (state + 0x6d2b79f5) | 0
    let x = Math.imul(state ^ (state >>> 15), 1 | state)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return Math.floor((((x ^ (x >>> 14)) >>> 0) / 2 ** 32) * n)
  }
}
