import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { BlockEntry } from '../src/chain/types.ts'
import { cidOf } from '../src/core/cbor.ts'
import { BlockError } from '../src/core/errors.ts'
import { genesisBlock } from '../src/core/params.ts'
import { BranchBuilder, mineBlocks, newKey, openChain, outputOf, phantomSpends, regtest, spendTx, storedBytes } from './helpers/chain-harness.ts'

const unrequested = { requested: false }

async function assertCode (promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => err instanceof BlockError && err.code === code)
}

test('an unrequested block on a branch with less work than the tip is refused before anything is written; equal or more work is stored', async t => {
  const { chain, ws } = await openChain(t)
  const main = await mineBlocks(chain, ws.clock, 5, newKey().addressHash)
  const before = await storedBytes(chain.store)

  // Forking from genesis, full of spends of coins that do not exist: well-formed, so only connecting would tell.
  const junk = BranchBuilder.on(chain, chain.getEntryAt(0) as BlockEntry).next({ txs: phantomSpends(chain, 20, 100) })
  assert.ok(junk.size > 50_000)
  assert.deepEqual(await chain.processBlock(junk, unrequested), { status: 'unwanted' })
  assert.equal(await storedBytes(chain.store), before, 'nothing written')
  assert.equal(chain.hasBlock(junk.idString), false)
  assert.equal(chain.blockInfo(junk.idString), undefined)
  assert.equal(chain.tip.idString, main[4].idString)
  // Refused as unwanted, not as invalid: fetched by our sync later, it is judged afresh.
  assert.deepEqual(await chain.processBlock(junk), { status: 'side' })
  assert.equal(chain.blockInfo(junk.idString)?.validity, 'valid-fork')

  // A block on the tip's parent ties with the tip: stored on the side; the next one on it takes over.
  const rival = BranchBuilder.on(chain, chain.getEntryAt(4) as BlockEntry)
  const tie = rival.next()
  assert.deepEqual(await chain.processBlock(tie, unrequested), { status: 'side' })
  assert.deepEqual(await chain.processBlock(rival.next(), unrequested), { status: 'connected' })
  assert.equal(chain.height, 6)
  assert.equal(chain.blockInfo(main[4].idString)?.validity, 'valid-fork')
  assert.equal(chain.blockInfo(tie.idString)?.validity, 'active')
  assert.equal((await chain.verifyChain()).ok, true)
})

test('a lighter branch gossiped block by block, then fetched as requested, reorganises the chain; unrequested orphans are never stored on a light branch', async t => {
  const { chain, ws } = await openChain(t)
  await mineBlocks(chain, ws.clock, 5, newKey().addressHash)
  const branch = BranchBuilder.on(chain, chain.getEntryAt(2) as BlockEntry).extend(4)
  const [b3, b4, b5, b6] = branch
  const before = await storedBytes(chain.store)

  // Gossip: b3 has less work than the tip; the rest wait as orphans (in memory only).
  assert.deepEqual(await chain.processBlock(b3, unrequested), { status: 'unwanted' })
  for (const b of [b4, b5, b6]) assert.equal((await chain.processBlock(b, unrequested)).status, 'orphan')
  assert.equal(chain.orphanCount, 3)
  assert.equal(await storedBytes(chain.store), before)

  // Our sync fetches what it does not index yet, orphans included, once the headers show more work.
  assert.deepEqual(await chain.processBlock(b3, { requested: true }), { status: 'side' })
  // b4 came by gossip: with less work than the tip, it left the pool unstored, and b5 and b6 wait for it.
  assert.equal(chain.blockInfo(b4.idString), undefined)
  assert.equal(chain.orphanCount, 2)
  assert.deepEqual(await chain.processBlock(b4, { requested: true }), { status: 'side' })
  // b5 ties, b6 has more work: the orphans follow their parent in.
  assert.equal(chain.orphanCount, 0)
  assert.equal(chain.tip.idString, b6.idString)
  assert.equal(chain.stats.maxReorgDepth, 3)
  assert.equal((await chain.verifyChain()).ok, true)
})

test('a requested branch forking 110 blocks below the tip, with less work than the tip until its last block, reorganises the chain', async t => {
  const { chain, ws } = await openChain(t)
  await mineBlocks(chain, ws.clock, 110, newKey().addressHash)
  const branch = BranchBuilder.on(chain, chain.getEntryAt(0) as BlockEntry).extend(111)
  for (const block of branch.slice(0, 110)) assert.deepEqual(await chain.processBlock(block, { requested: true }), { status: 'side' })
  assert.deepEqual(await chain.processBlock(branch[110], { requested: true }), { status: 'connected' })
  assert.equal(chain.tip.idString, branch[110].idString)
  assert.equal(chain.stats.maxReorgDepth, 110)
  assert.equal((await chain.verifyChain()).ok, true)
})

test('a block on the tip that fails its connect check keeps only its header, is answered as invalid, and stays so after a restart', async t => {
  const { chain, ws } = await openChain(t)
  await mineBlocks(chain, ws.clock, 3, newKey().addressHash)
  const bad = BranchBuilder.on(chain, chain.tip).next({ txs: phantomSpends(chain, 20, 100) })
  const before = await storedBytes(chain.store)

  await assert.rejects(chain.processBlock(bad, unrequested), (err: unknown) => err instanceof BlockError && err.code === 'BAD_TX' && err.cause?.code === 'MISSING_INPUT')
  const grown = await storedBytes(chain.store) - before
  t.diagnostic(`a ${bad.size}-byte invalid block grew the database by ${grown} bytes`)
  assert.ok(grown < 1_000, `only the header and index record are written (${grown} bytes)`)
  assert.equal(await chain.store.getRaw(cidOf(bad.txList)), undefined)
  assert.equal(await chain.store.getRaw(bad.txs[1].id), undefined)
  assert.equal(chain.height, 3)

  const answers = async (c: typeof chain): Promise<void> => {
    assert.equal(c.blockInfo(bad.idString)?.validity, 'invalid')
    assert.equal(c.getEntry(bad.idString), undefined)
    assert.equal(await c.getBlock(bad.id), undefined, 'an invalid block is not served')
    assert.equal((await c.getHeader(bad.id))?.idString, bad.idString)
    assert.deepEqual(await c.getBlocksWire([bad.id]), [])
    await assertCode(c.processBlock(bad), 'KNOWN_INVALID')
    await assertCode(c.processBlock(BranchBuilder.on(c, c.blockInfo(bad.idString)?.entry as BlockEntry).next()), 'PREV_INVALID')
  }
  await answers(chain)
  await chain.stop()
  const again = await ws.open()
  await answers(again)
  assert.equal(again.height, 3)
  assert.equal((await again.verifyChain()).ok, true)
  assert.equal(again.blockInfo(genesisBlock(regtest).idString)?.validity, 'active')
})

test('an invalid block\'s transactions that other stored blocks hold stay when its body is dropped', async t => {
  const { chain, ws } = await openChain(t)
  const key = newKey()
  const main = await mineBlocks(chain, ws.clock, 12, key.addressHash)
  // One transaction confirmed on the best chain, one mined only in a side block that ties with the tip.
  const confirmed = spendTx(chain, [outputOf(main[0].txs[0])], key)
  await chain.acceptTx(confirmed)
  const [withConfirmed] = await mineBlocks(chain, ws.clock, 1, key.addressHash)
  const onSide = spendTx(chain, [outputOf(main[1].txs[0])], key)
  const side = BranchBuilder.on(chain, chain.getEntryAt(12) as BlockEntry).next({ txs: [onSide] })
  assert.deepEqual(await chain.processBlock(side), { status: 'side' })

  // On the tip: the side block's transaction (valid here), the confirmed one again (spent: invalid), and a new one.
  const fresh = spendTx(chain, [outputOf(main[2].txs[0])], key)
  const bad = BranchBuilder.on(chain, chain.tip).next({ txs: [onSide, fresh, confirmed] })
  await assertCode(chain.processBlock(bad), 'BAD_TX')
  assert.equal(chain.blockInfo(bad.idString)?.validity, 'invalid')
  assert.equal(await chain.store.getRaw(fresh.id), undefined, 'what only the invalid block brought is gone')
  assert.equal(await chain.store.getRaw(cidOf(bad.txList)), undefined)
  assert.equal(await chain.store.getRaw(bad.id), undefined, 'its header leaves the blockstore')
  assert.equal((await chain.getHeader(bad.id))?.idString, bad.idString, 'and is kept for getblock')
  assert.equal(await chain.store.getRaw(bad.txs[0].id), undefined, 'its own coinbase is gone')
  assert.equal((await chain.getBlock(withConfirmed.id))?.txs[1].idString, confirmed.idString)
  assert.equal((await chain.getBlock(side.id))?.txs[1].idString, onSide.idString)
  assert.equal((await chain.getTx(confirmed.id))?.idString, confirmed.idString)
  assert.equal((await chain.verifyChain()).ok, true)
  // The side branch can still take over with its stored blocks.
  assert.equal((await chain.processBlock(BranchBuilder.on(chain, chain.blockInfo(side.idString)?.entry as BlockEntry).next())).status, 'connected')
  assert.equal(chain.isOnBestChain(side.idString), true)
})
