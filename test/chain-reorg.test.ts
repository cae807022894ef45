import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { TestChain } from './helpers/chain-harness.ts'
import type { BlockEntry, TipChange } from '../src/chain/types.ts'
import { COIN } from '../src/core/amount.ts'
import type { Block } from '../src/core/block.ts'
import type { Tx } from '../src/core/tx.ts'
import { BranchBuilder, chainWorkspace, mineBlocks, mineOn, newKey, outputOf, spendTx, type ChainWorkspace } from './helpers/chain-harness.ts'

/** The UTXO summary of a fresh chain fed `blocks` in order: what the winning branch alone gives. */
async function summaryOfDirectChain (ws: ChainWorkspace, name: string, blocks: Block[]): Promise<ReturnType<TestChain['utxoSummary']>> {
  const direct = await ws.open({ name })
  for (const block of blocks) assert.equal((await direct.processBlock(block)).status, 'connected')
  assert.equal((await direct.verifyChain()).ok, true)
  const summary = direct.utxoSummary()
  await direct.stop()
  return summary
}

function recordEvents (chain: TestChain): { tips: TipChange[], connected: string[], disconnected: string[], accepted: string[], removed: string[] } {
  const log = { tips: [] as TipChange[], connected: [] as string[], disconnected: [] as string[], accepted: [] as string[], removed: [] as string[] }
  chain.on('tip', c => log.tips.push(c))
  chain.on('block:connected', b => log.connected.push(b.idString))
  chain.on('block:disconnected', b => log.disconnected.push(b.idString))
  chain.on('tx:accepted', e => log.accepted.push(e.tx.idString))
  chain.on('tx:removed', txs => log.removed.push(...txs.map(tx => tx.idString)))
  return log
}

test('a branch with less or equal work stays on the side; more work reorganises', async t => {
  const ws = await chainWorkspace(t)
  const chain = await ws.open()
  const key = newKey()
  const main = await mineBlocks(chain, ws.clock, 5, key.addressHash)
  const log = recordEvents(chain)

  const branch = BranchBuilder.on(chain, chain.getEntryAt(3) as BlockEntry)
  const b4 = branch.next({ address: newKey().addressHash })
  assert.deepEqual(await chain.processBlock(b4), { status: 'side' })
  assert.equal(chain.tip.idString, main[4].idString)
  assert.equal(chain.getEntry(b4.idString)?.height, 4)
  assert.equal(chain.isOnBestChain(b4.idString), false)

  // Equal work: the first seen stays the tip.
  const b5 = branch.next()
  assert.deepEqual(await chain.processBlock(b5), { status: 'side' })
  assert.equal(chain.tip.idString, main[4].idString)
  assert.equal(log.tips.length, 0)
  const beforeSummary = chain.utxoSummary()
  assert.equal(beforeSummary.txouts, 6, 'side blocks add no coins')

  const b6 = branch.next()
  assert.deepEqual(await chain.processBlock(b6), { status: 'connected' })
  assert.equal(chain.height, 6)
  assert.equal(chain.tip.idString, b6.idString)
  assert.equal(log.tips.length, 1)
  const change = log.tips[0]
  assert.equal(change.tip.idString, b6.idString)
  assert.deepEqual(change.disconnected.map(e => e.idString), [main[4].idString, main[3].idString])
  assert.deepEqual(change.connected.map(e => e.idString), [b4.idString, b5.idString, b6.idString])
  assert.deepEqual(log.disconnected, [main[4].idString, main[3].idString])
  assert.deepEqual(log.connected, [b4.idString, b5.idString, b6.idString])
  assert.equal(chain.isOnBestChain(main[3].idString), false)
  assert.equal(chain.getEntryAt(4)?.idString, b4.idString)
  // The old blocks stay known as a side branch.
  assert.equal(chain.getEntry(main[4].idString)?.height, 5)
  assert.deepEqual(await chain.processBlock(main[4]), { status: 'known' })

  const direct = await summaryOfDirectChain(ws, 'direct', [...main.slice(0, 3), b4, b5, b6])
  assert.deepEqual(chain.utxoSummary(), direct)
  assert.equal((await chain.verifyChain()).ok, true)

  // And back: the old branch grows heavier again.
  const back = BranchBuilder.on(chain, chain.getEntry(main[4].idString) as BlockEntry).extend(2)
  assert.deepEqual(await chain.processBlock(back[0]), { status: 'side' })
  assert.deepEqual(await chain.processBlock(back[1]), { status: 'connected' })
  assert.deepEqual(log.tips[1].disconnected.map(e => e.height), [6, 5, 4])
  assert.deepEqual(log.tips[1].connected.map(e => e.idString), [main[3], main[4], ...back].map(b => b.idString))
  assert.deepEqual(chain.utxoSummary(), await summaryOfDirectChain(ws, 'direct2', [...main, ...back]))
  assert.equal((await chain.verifyChain()).ok, true)
})

interface MempoolReorgFixture {
  ws: ChainWorkspace
  chain: TestChain
  key: ReturnType<typeof newKey>
  main: Block[]
  /** Mined in main[12]. */
  tx1: Tx
  tx2: Tx
  /** Spends tx1's output, mined in main[12] too. */
  tx1child: Tx
  /** Only in the mempool. */
  tx3: Tx
}

/** 12 mature-making blocks, then block 13 holding tx1, tx1child, tx2, and tx3 left in the mempool. */
async function mempoolReorgFixture (t: Parameters<typeof chainWorkspace>[0]): Promise<MempoolReorgFixture> {
  const ws = await chainWorkspace(t)
  const chain = await ws.open()
  const key = newKey()
  const main = await mineBlocks(chain, ws.clock, 12, key.addressHash)
  const tx1 = spendTx(chain, [outputOf(main[0].txs[0])], key)
  const tx1child = spendTx(chain, [outputOf(tx1)], key)
  const tx2 = spendTx(chain, [outputOf(main[1].txs[0])], key)
  for (const tx of [tx1, tx1child, tx2]) await chain.acceptTx(tx)
  main.push(...await mineBlocks(chain, ws.clock, 1, key.addressHash))
  assert.equal(main[12].txs.length, 4)
  assert.equal(chain.mempool.size, 0)
  const tx3 = spendTx(chain, [outputOf(main[2].txs[0])], key)
  await chain.acceptTx(tx3)
  return { ws, chain, key, main, tx1, tx2, tx1child, tx3 }
}

test('transactions of disconnected blocks return to the mempool and are mined again', async t => {
  const { ws, chain, key, main, tx1, tx2, tx1child, tx3 } = await mempoolReorgFixture(t)
  const log = recordEvents(chain)
  const branch = BranchBuilder.on(chain, chain.getEntryAt(12) as BlockEntry).extend(2)
  assert.equal((await chain.processBlock(branch[0])).status, 'side')
  assert.equal(chain.mempool.size, 1)
  assert.equal((await chain.processBlock(branch[1])).status, 'connected')

  assert.deepEqual(log.tips[0].disconnected.map(e => e.idString), [main[12].idString])
  for (const tx of [tx1, tx1child, tx2, tx3]) assert.equal(chain.mempool.has(tx.idString), true, `${tx.idString} back in the mempool`)
  assert.equal(chain.mempool.size, 4)
  assert.deepEqual(new Set(log.accepted), new Set([tx1, tx1child, tx2, tx3].map(tx => tx.idString)))
  assert.deepEqual(log.removed, [])
  assert.deepEqual(chain.utxoSummary(), await summaryOfDirectChain(ws, 'direct', [...main.slice(0, 12), ...branch]))

  const next = await mineOn(chain, key.addressHash)
  assert.deepEqual(new Set(next.txs.slice(1).map(tx => tx.idString)), new Set([tx1, tx1child, tx2, tx3].map(tx => tx.idString)))
  assert.ok(next.txs.findIndex(tx => tx.idString === tx1.idString) < next.txs.findIndex(tx => tx.idString === tx1child.idString))
  assert.equal((await chain.processBlock(next)).status, 'connected')
  assert.equal(chain.mempool.size, 0)
  assert.equal((await chain.verifyChain()).ok, true)
})

test('a template asked for while a reorganisation runs is built after it: on the new tip, with the returned transactions', async t => {
  const { chain, key, tx1, tx1child } = await mempoolReorgFixture(t)
  const branch = BranchBuilder.on(chain, chain.getEntryAt(12) as BlockEntry).extend(2)
  assert.equal((await chain.processBlock(branch[0])).status, 'side')
  const switching = chain.processBlock(branch[1])
  const template = await chain.templates.newTemplate(key.addressHash)
  assert.equal((await switching).status, 'connected')
  assert.equal(template.header.prev?.toString(), branch[1].idString)
  const ids = template.txs.map(tx => tx.idString)
  assert.ok(ids.includes(tx1.idString) && ids.indexOf(tx1.idString) < ids.indexOf(tx1child.idString))
})

test('a disconnected transaction that conflicts with the new branch is dropped with its child', async t => {
  const { ws, chain, key, main, tx1, tx2, tx1child, tx3 } = await mempoolReorgFixture(t)
  const log = recordEvents(chain)
  const payee = newKey()
  const doubleSpend = spendTx(chain, [outputOf(main[0].txs[0])], key, { outputs: [{ amount: 49n * COIN, address: payee.addressHash }] })
  const builder = BranchBuilder.on(chain, chain.getEntryAt(12) as BlockEntry)
  const branch = [builder.next({ txs: [doubleSpend] }), builder.next()]
  assert.equal((await chain.processBlock(branch[0])).status, 'side')
  assert.equal((await chain.processBlock(branch[1])).status, 'connected')

  assert.equal(chain.mempool.has(tx1.idString), false)
  assert.equal(chain.mempool.has(tx1child.idString), false)
  assert.equal(chain.mempool.has(tx2.idString), true)
  assert.equal(chain.mempool.has(tx3.idString), true)
  assert.equal(chain.mempool.size, 2)
  assert.deepEqual(new Set(log.removed), new Set([tx1.idString, tx1child.idString]))
  assert.equal((await chain.getCoins([`${doubleSpend.idString}:0`])).get(`${doubleSpend.idString}:0`)?.amount, 49n * COIN)
  assert.deepEqual(chain.utxoSummary(), await summaryOfDirectChain(ws, 'direct', [...main.slice(0, 12), ...branch]))

  const next = await mineOn(chain, key.addressHash)
  assert.deepEqual(new Set(next.txs.slice(1).map(tx => tx.idString)), new Set([tx2.idString, tx3.idString]))
  assert.equal((await chain.processBlock(next)).status, 'connected')
  assert.equal(chain.mempool.size, 0)
  assert.equal((await chain.verifyChain()).ok, true)
})

test('a reorganisation onto a branch holding a mempool transaction removes it from the mempool', async t => {
  const { chain, main, tx3 } = await mempoolReorgFixture(t)
  const log = recordEvents(chain)
  const builder = BranchBuilder.on(chain, chain.getEntryAt(12) as BlockEntry)
  await chain.processBlock(builder.next({ txs: [tx3] }))
  await chain.processBlock(builder.next())
  assert.equal(chain.isOnBestChain(main[12].idString), false)
  assert.equal(chain.mempool.has(tx3.idString), false)
  assert.equal(log.accepted.includes(tx3.idString), false)
  assert.equal(chain.mempool.size, 3)
  assert.equal((await chain.verifyChain()).ok, true)
})
