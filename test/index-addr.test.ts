/**
 * The address index (--addrindex): built in the background from what a chain
 * already holds, followed block by block, taken back through a reorganisation
 * and resumed after a restart where it stopped.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { encodeAddress } from '../src/core/address.ts'
import { COIN } from '../src/core/amount.ts'
import { BranchBuilder, newKey as newKeyPair, outputOf, regtest, spendTx } from './helpers/chain-harness.ts'
import { rpc, startNode, tempDatadir } from './helpers/node-harness.ts'

test('the address index builds in the background, follows reorganisations and resumes after a restart', async t => {
  const datadir = await tempDatadir(t)
  const miner = newKeyPair()
  const minerAddress = encodeAddress(regtest.addressPrefix, miner.addressHash)
  // A chain made without the index.
  const first = await startNode(t, { datadir, minerAddress })
  await rpc(first, 'generate', [60])
  await first.stop()

  const node = await startNode(t, { datadir, minerAddress, addrIndex: true, http: { host: '127.0.0.1', port: 0 } })
  const index = node.addrIndex
  assert.ok(index !== undefined)
  await index.caughtUp()
  assert.deepEqual(index.status(), { height: 60, tip: 60, progress: 1, synced: true })
  const mined = await index.history(miner.addressHash, { limit: 50 })
  assert.equal(mined.txCount, 60)
  assert.equal(mined.received, 3000n * COIN)
  assert.equal(mined.entries.length, 50)
  assert.equal(mined.entries[0].height, 60)
  assert.ok(mined.next !== null)
  const older = await index.history(miner.addressHash, { limit: 50, before: mined.next })
  assert.deepEqual(older.entries.map(e => e.height), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1])
  assert.equal(older.next, null)

  // A payment, mined: both addresses see it, and its transaction's block is found.
  const payee = newKeyPair()
  const coinbase = (await node.chain.getBlock(node.chain.getEntryAt(1)?.id ?? node.chain.tip.id))?.txs[0]
  assert.ok(coinbase !== undefined)
  const pay = spendTx(node.chain, [outputOf(coinbase)], miner, { outputs: [{ amount: 12n * 10n ** 8n, address: payee.addressHash }, { amount: 38n * 10n ** 8n - 10_000n, address: miner.addressHash }] })
  await rpc(node, 'sendrawtransaction', [Buffer.from(pay.bytes).toString('hex')])
  const fork = node.chain.tip
  await rpc(node, 'generate', [1])
  await index.caughtUp()
  const paid = await index.history(payee.addressHash, { limit: 10 })
  assert.deepEqual([paid.balance, paid.txCount, paid.entries[0].txid, paid.entries[0].height], [12n * COIN, 1, pay.idString, 61])
  assert.equal(await index.txHeight(pay.idString), 61)
  const spender = await index.history(miner.addressHash, { limit: 1 })
  assert.equal(spender.sent, 50n * COIN)
  // The explorer finds the transaction's block through the index, and shows the address.
  const base = `http://${node.http?.address ?? ''}`
  const view = await (await fetch(`${base}/api/tx/${pay.idString}`)).json() as { block: { height: number } | null }
  assert.equal(view.block?.height, 61)
  const page = await (await fetch(`${base}/api/address/${encodeAddress(regtest.addressPrefix, payee.addressHash)}`)).json() as { balance: string }
  assert.equal(page.balance, '12')

  // A heavier branch from before the payment: the index takes block 61 back out and follows the new chain.
  const branch = BranchBuilder.on(node.chain, fork)
  for (let i = 0; i < 2; i++) await node.chain.processBlock(branch.next({ address: miner.addressHash }))
  assert.equal(node.chain.height, 62)
  assert.notEqual(node.chain.getEntryAt(61)?.idString, paid.entries[0].txid)
  await index.caughtUp()
  const after = await index.history(payee.addressHash, { limit: 10 })
  assert.deepEqual([after.balance, after.txCount, after.entries.length], [0n, 0, 0])
  assert.equal(await index.txHeight(pay.idString), undefined)
  const minerAfter = await index.history(miner.addressHash, { limit: 1 })
  assert.deepEqual([minerAfter.sent, minerAfter.txCount, minerAfter.entries[0].height], [0n, 62, 62])

  // A restart resumes where the index stopped, with nothing to rebuild.
  await rpc(node, 'generate', [3])
  // The index follows in the background: a stop may come before it reaches the tip (then the restart resumes lower).
  await index.caughtUp()
  await node.stop()
  const again = await startNode(t, { datadir, minerAddress, addrIndex: true })
  assert.ok(again.addrIndex !== undefined)
  assert.equal(again.addrIndex.status().height, 65)
  await again.addrIndex.caughtUp()
  // 65 coinbases, and the payment, back from the mempool into one of the three blocks.
  assert.equal((await again.addrIndex.history(miner.addressHash, { limit: 1 })).txCount, 66)
  assert.ok(await again.addrIndex.txHeight(pay.idString) !== undefined)
})
