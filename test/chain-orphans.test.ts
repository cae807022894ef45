import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { BlockEntry } from '../src/chain/types.ts'
import { BlockError } from '../src/core/errors.ts'
import { genesisBlock } from '../src/core/params.ts'
import { BranchBuilder, mineBlocks, newKey, openChain, regtest } from './helpers/chain-harness.ts'

test('children arriving before their parents wait as orphans and connect when the root arrives', async t => {
  const { chain } = await openChain(t)
  const blocks = BranchBuilder.on(chain, chain.tip).extend(4)
  const [c1, c2, c3, c4] = blocks
  let tipEvents = 0
  chain.on('tip', () => { tipEvents++ })

  assert.deepEqual(await chain.processBlock(c4), { status: 'orphan', missing: c3.idString })
  assert.deepEqual(await chain.processBlock(c3), { status: 'orphan', missing: c2.idString })
  // Asked again, an orphan names the root of what is missing, not its own parent.
  assert.deepEqual(await chain.processBlock(c4), { status: 'orphan', missing: c2.idString })
  assert.deepEqual(await chain.processBlock(c2), { status: 'orphan', missing: c1.idString })
  assert.equal(chain.orphanCount, 3)
  assert.equal(chain.hasBlock(c3.idString), true)
  assert.equal(chain.getEntry(c3.idString), undefined)
  assert.equal(chain.height, 0)
  assert.equal(await chain.getBlock(c3.id), undefined, 'orphans are not stored')

  assert.deepEqual(await chain.processBlock(c1), { status: 'connected' })
  assert.equal(chain.orphanCount, 0)
  assert.equal(chain.height, 4)
  assert.equal(chain.tip.idString, c4.idString)
  assert.equal(tipEvents, 4)
  for (const b of blocks) assert.equal(chain.isOnBestChain(b.idString), true)
  assert.deepEqual(await chain.processBlock(c4), { status: 'known' })
  assert.equal((await chain.verifyChain()).ok, true)
})

test('orphans of a side branch are stored on the side when their parent arrives', async t => {
  const { chain, ws } = await openChain(t)
  const main = await mineBlocks(chain, ws.clock, 5, newKey().addressHash)
  const [s3, s4] = BranchBuilder.on(chain, chain.getEntryAt(2) as BlockEntry).extend(2)
  assert.deepEqual(await chain.processBlock(s4), { status: 'orphan', missing: s3.idString })
  assert.deepEqual(await chain.processBlock(s3), { status: 'side' })
  assert.equal(chain.orphanCount, 0)
  assert.equal(chain.getEntry(s4.idString)?.height, 4)
  assert.equal(chain.tip.idString, main[4].idString)
})

test('the orphan pool is bounded: the oldest orphans go first', async t => {
  const { chain } = await openChain(t, { maxOrphans: 3 })
  const blocks = BranchBuilder.on(chain, chain.tip).extend(6)
  for (const b of blocks.slice(1).reverse()) assert.equal((await chain.processBlock(b)).status, 'orphan')
  assert.equal(chain.orphanCount, 3)
  // blocks[5] and blocks[4] came first and were evicted.
  assert.equal(chain.hasBlock(blocks[5].idString), false)
  assert.equal(chain.hasBlock(blocks[4].idString), false)
  assert.equal(chain.hasBlock(blocks[3].idString), true)

  assert.deepEqual(await chain.processBlock(blocks[0]), { status: 'connected' })
  assert.equal(chain.height, 4)
  assert.equal(chain.orphanCount, 0)
  assert.deepEqual(await chain.processBlock(blocks[5]), { status: 'orphan', missing: blocks[4].idString })
  assert.deepEqual(await chain.processBlock(blocks[4]), { status: 'connected' })
  assert.equal(chain.height, 6)
})

test('the orphan pool is bounded by bytes too: the oldest go first, and a block over the whole budget is not held', async t => {
  const probe = await openChain(t)
  const blocks = BranchBuilder.on(probe.chain, probe.chain.tip).extend(4)
  const [, b1, b2, b3] = blocks
  const { chain } = await openChain(t, { maxOrphanBytes: b1.size + b2.size + b3.size - 1 })
  for (const b of [b3, b2]) assert.equal((await chain.processBlock(b)).status, 'orphan')
  assert.equal(chain.orphanCount, 2)
  assert.equal((await chain.processBlock(b1)).status, 'orphan')
  assert.equal(chain.orphanCount, 2)
  assert.equal(chain.hasBlock(b3.idString), false, 'the oldest orphan made room')
  assert.equal(chain.hasBlock(b2.idString), true)
  assert.equal(chain.hasBlock(b1.idString), true)

  const tiny = await openChain(t, { maxOrphanBytes: b3.size - 1 })
  assert.equal((await tiny.chain.processBlock(b3)).status, 'orphan')
  assert.equal(tiny.chain.orphanCount, 0)
})

test('an orphan that fails sanity checks is not held', async t => {
  const { chain } = await openChain(t)
  const builder = BranchBuilder.on(chain, chain.tip)
  builder.next()
  const bad = builder.next({ coinbaseOutputs: [{ amount: -1n, address: new Uint8Array(20) }] })
  await assert.rejects(chain.processBlock(bad), (err: unknown) => err instanceof BlockError && err.code === 'BAD_TX' && err.cause?.code === 'BAD_AMOUNT')
  assert.equal(chain.orphanCount, 0)
  assert.equal(chain.hasBlock(genesisBlock(regtest).idString), true)
})
