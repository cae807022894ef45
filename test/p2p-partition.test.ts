import { test } from 'node:test'
import assert from 'node:assert/strict'
import { toHex } from '../src/core/hash.ts'
import type { CointsNode } from '../src/node/node.ts'
import { addrOf, newKey, regtest, rpc, startNode, waitFor, waitForSameTip } from './helpers/node-harness.ts'
import { spendCoinbase } from './helpers/spend.ts'

function peerIdOf (node: CointsNode): string {
  return node.p2p?.libp2p.peerId.toString() ?? ''
}

/** Cuts every link between the groups with bans on both sides (what `coints swarm` does in loopback mode). */
async function partition (a: CointsNode[], b: CointsNode[], ban: boolean): Promise<void> {
  for (const x of a) {
    for (const y of b) {
      await rpc(x, 'setban', [peerIdOf(y), ban ? 'add' : 'remove'])
      await rpc(y, 'setban', [peerIdOf(x), ban ? 'add' : 'remove'])
    }
  }
}

test('two groups that mined apart during a partition converge on the branch with most work when it heals', async t => {
  const key = newKey()
  const a1 = await startNode(t, { minerAddress: key.address })
  const a2 = await startNode(t, { bootstrap: [addrOf(a1)] })
  const b1 = await startNode(t, { bootstrap: [addrOf(a1)], minerAddress: key.address })
  const b2 = await startNode(t, { bootstrap: [addrOf(b1)] })
  const all = [a1, a2, b1, b2]
  await rpc(a1, 'generate', [regtest.coinbaseMaturity + 1])
  const common = await waitForSameTip(all, regtest.coinbaseMaturity + 1)

  await partition([a1, a2], [b1, b2], true)
  await waitFor(async () => (await Promise.all([a1, a2].map(async n => await n.p2p?.peerInfo() ?? []))).every(list => list.every(p => p.peerId === peerIdOf(a1) || p.peerId === peerIdOf(a2))), 'group a to lose its links to group b')

  // Group a confirms a transaction on its branch; group b mines a longer one without it.
  const tx = await spendCoinbase(a1.chain, 1, key, newKey().addressHash)
  await rpc(a1, 'sendrawtransaction', [toHex(tx.bytes)])
  await rpc(a1, 'generate', [2])
  await waitForSameTip([a1, a2], regtest.coinbaseMaturity + 3)
  assert.equal(a2.mempool.has(tx.idString), false)
  await rpc(b1, 'generate', [4])
  const heavier = await waitForSameTip([b1, b2], regtest.coinbaseMaturity + 5)
  assert.notEqual(a1.chain.tip.idString, heavier)
  assert.equal(b1.mempool.has(tx.idString), false)

  await partition([a1, a2], [b1, b2], false)
  await rpc(a1, 'addnode', [addrOf(b1)])
  const start = Date.now()
  assert.equal(await waitForSameTip(all, regtest.coinbaseMaturity + 5, 20_000), heavier)
  t.diagnostic(`converged ${Date.now() - start} ms after the heal`)
  assert.equal(a1.chain.getEntry(common)?.height, regtest.coinbaseMaturity + 1)

  // The losing branch's transaction is back in the mempools, and the next block mines it again.
  await waitFor(() => all.every(n => n.mempool.has(tx.idString)), 'the orphaned transaction back in every mempool')
  await rpc(b2, 'generate', [1, key.address])
  await waitForSameTip(all, regtest.coinbaseMaturity + 6)
  const tip = await rpc(a1, 'getblock', [a1.chain.tip.idString])
  assert.ok(tip.txs?.includes(tx.idString))
  for (const node of all) assert.equal((await rpc(node, 'verifychain')).ok, true)
})
