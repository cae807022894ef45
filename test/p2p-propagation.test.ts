import { test } from 'node:test'
import assert from 'node:assert/strict'
import { toHex } from '../src/core/hash.ts'
import { addrOf, newKey, regtest, rpc, startNode, waitFor, waitForSameTip } from './helpers/node-harness.ts'
import { spendCoinbase } from './helpers/spend.ts'

test('blocks and transactions propagate across 5 nodes over loopback TCP', async t => {
  const miner = newKey()
  const first = await startNode(t, { minerAddress: miner.address })
  // A chain of five: each node bootstraps only from the one before it, so gossip must relay.
  const nodes = [first]
  for (let i = 1; i < 5; i++) nodes.push(await startNode(t, { bootstrap: [addrOf(nodes[i - 1])] }))
  await waitFor(() => nodes.every(n => (n.p2p?.libp2p.getPeers().length ?? 0) >= 1), 'every node to have a peer')

  const [id] = await rpc(first, 'generate', [1])
  await waitForSameTip(nodes, 1)
  assert.equal(nodes[4].chain.tip.idString, id)

  // Mature a coinbase, then spend it on the first node: the last one must see it in its mempool.
  await rpc(first, 'generate', [regtest.coinbaseMaturity])
  await waitForSameTip(nodes, 1 + regtest.coinbaseMaturity)
  const tx = await spendCoinbase(first.chain, 1, miner, newKey().addressHash)
  assert.equal(await rpc(first, 'sendrawtransaction', [toHex(tx.bytes)]), tx.idString)
  await waitFor(() => nodes.every(n => n.mempool.has(tx.idString)), 'the transaction in every mempool')

  // Mined on the last node, the transaction leaves every mempool.
  const last = nodes[4]
  await rpc(last, 'generate', [1, miner.address])
  await waitForSameTip(nodes, 2 + regtest.coinbaseMaturity)
  await waitFor(() => nodes.every(n => !n.mempool.has(tx.idString)), 'the mined transaction to leave every mempool')
  assert.deepEqual((await rpc(first, 'getblock', [last.chain.tip.idString])).txs?.slice(1), [tx.idString])
})
