import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { chainWorkspace } from './helpers/chain-harness.ts'

const NODE = fileURLToPath(new URL('../node_modules/.bin/node', import.meta.url))
const MINER = fileURLToPath(new URL('./fixtures/crash-miner.ts', import.meta.url))
const ROUNDS = 5
const PROGRESS_DEADLINE_MS = 20_000

interface RoundLog { ready: number, lastBlockHeight: number, blocks: number, reorgs: number, doubleSpends: number, txs: number }

/**
 * Runs the miner until it has printed `killAfter` block lines, waits `delayMs`
 * more (so the kill lands anywhere in its work, mid-block or mid-reorganisation),
 * SIGKILLs it and returns what it printed up to its death.
 */
async function runAndKill (children: Set<ChildProcess>, dbPath: string, killAfter: number, delayMs: number): Promise<RoundLog> {
  const child = spawn(NODE, [MINER, dbPath], { stdio: ['ignore', 'pipe', 'pipe'] })
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

test('SIGKILLed at random moments while mining, spending and reorganising, the chain restarts consistent', async t => {
  const children = new Set<ChildProcess>()
  // Registered first, so it runs before the workspace's hook removes the datadir.
  t.after(async () => {
    for (const child of children) {
      child.kill('SIGKILL')
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit')
    }
  })
  const ws = await chainWorkspace(t)
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 2 ** 31)
  let state = seed
  // mulberry32: the kill pattern is reproducible from the seed in the failure messages.
  const random = (n: number): number => {
    state = (state + 0x6d2b79f5) | 0
    let x = Math.imul(state ^ (state >>> 15), 1 | state)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return Math.floor((((x ^ (x >>> 14)) >>> 0) / 2 ** 32) * n)
  }
  const totals = { blocks: 0, reorgs: 0, doubleSpends: 0, txs: 0 }
  let height = 0

  for (let round = 0; round < ROUNDS; round++) {
    // The first round runs long enough for spends to mature and reorganisations to double-spend them.
    const killAfter = round === 0 ? 40 + random(30) : 5 + random(60)
    const delayMs = random(4) === 0 ? 0 : random(30)
    const what = `round ${round} (seed ${seed}, kill after ${killAfter} blocks + ${delayMs} ms)`
    const log = await runAndKill(children, ws.dbPath(), killAfter, delayMs)
    assert.ok(log.ready >= height, `${what}: the miner resumed at ${log.ready}, below the ${height} checked before`)
    assert.ok(log.lastBlockHeight >= 0, what)
    totals.blocks += log.blocks
    totals.reorgs += log.reorgs
    totals.doubleSpends += log.doubleSpends
    totals.txs += log.txs

    const chain = await ws.open()
    const check = await chain.verifyChain()
    assert.equal(check.ok, true, `${what}: ${check.mismatches.join('\n')}`)
    assert.equal(check.txouts, chain.utxoSummary().txouts)
    // A printed height was stored; any switch since only went to more work (on regtest: more height).
    assert.ok(chain.height >= log.lastBlockHeight, `${what}: restarted at ${chain.height}, below the printed ${log.lastBlockHeight}`)
    height = chain.height
    await chain.stop()
  }

  assert.ok(totals.blocks >= ROUNDS * 5)
  assert.ok(totals.reorgs > 0, 'the miner reorganised')
  assert.ok(totals.doubleSpends > 0, 'some branches double-spent a replaced block\'s coin')
  assert.ok(totals.txs > 0, 'the miner spent coins')
})
