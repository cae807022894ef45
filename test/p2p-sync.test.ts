import { test } from 'node:test'
import assert from 'node:assert/strict'
import { addrOf, newKey, rpc, startNode, waitForSameTip } from './helpers/node-harness.ts'

test('a fresh node syncs a 1,000-block chain from its bootstrap peer, then follows new blocks', async t => {
  const miner = newKey()
  const source = await startNode(t, { minerAddress: miner.address })
  await rpc(source, 'generate', [1_000])
  assert.equal(source.chain.height, 1_000)

  const fresh = await startNode(t, { bootstrap: [addrOf(source)] })
  await waitForSameTip([source, fresh], 1_000, 120_000)
  assert.deepEqual(await rpc(fresh, 'gettxoutsetinfo'), await rpc(source, 'gettxoutsetinfo'))
  assert.equal((await rpc(fresh, 'verifychain')).ok, true)

  await rpc(source, 'generate', [3])
  await waitForSameTip([source, fresh], 1_003)
})
