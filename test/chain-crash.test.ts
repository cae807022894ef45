import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { test } from 'node:test'
import { chainWorkspace } from './helpers/chain-harness.ts'
import { killAll, runAndKill, seededRandom } from './helpers/crash-miner-run.ts'

const ROUNDS = 5

test('SIGKILLed at random moments while mining, spending and reorganising, the chain restarts consistent', async t => {
  const children = new Set<ChildProcess>()
  // Registered first, so it runs before the workspace's hook removes the datadir.
  t.after(async () => { await killAll(children) })
  const ws = await chainWorkspace(t)
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 2 ** 31)
  const random = seededRandom(seed)
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
