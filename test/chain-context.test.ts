import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { TestChain } from './helpers/chain-harness.ts'
import { Block, Header } from '../src/core/block.ts'
import { BlockError } from '../src/core/errors.ts'
import { bitsToTarget } from '../src/core/pow.ts'
import { BranchBuilder, mineBlocks, newKey, openChain, regtest, type BranchBlockOptions } from './helpers/chain-harness.ts'

function isBlockError (code: string): (err: unknown) => boolean {
  return err => {
    assert.ok(err instanceof BlockError, `a BlockError, got ${String(err)}`)
    assert.equal(err.code, code)
    return true
  }
}

async function assertNotStored (chain: TestChain, block: Block): Promise<void> {
  assert.equal(chain.hasBlock(block.idString), false)
  assert.equal(chain.getEntry(block.idString), undefined)
  assert.equal(await chain.store.getRaw(block.id), undefined)
  assert.equal(await chain.getBlock(block.id), undefined)
}

const contextCases: Array<{ code: string, opts: (b: BranchBuilder) => BranchBlockOptions }> = [
  // A valid proof of work against a harder target than the chain demands (regtest never retargets).
  { code: 'BAD_DIFFICULTY', opts: () => ({ bits: regtest.powLimitBits - 1 }) },
  { code: 'TIME_TOO_OLD', opts: b => ({ time: b.medianTimePast }) },
  { code: 'BAD_HEIGHT', opts: b => ({ height: b.tip.height + 2 }) }
]

for (const c of contextCases) {
  test(`${c.code}: rejected, not stored, known invalid on resubmission, its children too`, async t => {
    const { chain, ws } = await openChain(t)
    const key = newKey()
    await mineBlocks(chain, ws.clock, 12, key.addressHash)
    const before = chain.utxoSummary()
    const builder = BranchBuilder.on(chain, chain.tip)
    const bad = builder.next(c.opts(builder))

    await assert.rejects(chain.processBlock(bad), isBlockError(c.code))
    await assertNotStored(chain, bad)
    assert.deepEqual(chain.utxoSummary(), before)
    await assert.rejects(chain.processBlock(bad), isBlockError('KNOWN_INVALID'))
    // A child of the rejected block is invalid too, not an orphan waiting for a parent we refused.
    const child = builder.next()
    await assert.rejects(chain.processBlock(child), isBlockError('PREV_INVALID'))
    assert.equal(chain.orphanCount, 0)
    await assertNotStored(chain, child)

    // The chain carries on with a valid block at the same place.
    await mineBlocks(chain, ws.clock, 1, key.addressHash)
    assert.equal(chain.height, 13)
  })
}

test('TIME_TOO_NEW is not cached: the block connects once the clock catches up', async t => {
  const { chain, ws } = await openChain(t)
  const early = BranchBuilder.on(chain, chain.tip).next({ time: ws.clock.now + regtest.maxFutureBlockTime + 5 })
  await assert.rejects(chain.processBlock(early), isBlockError('TIME_TOO_NEW'))
  await assertNotStored(chain, early)
  ws.clock.now += 5
  assert.deepEqual(await chain.processBlock(early), { status: 'connected' })
})

test('BAD_POW: a header above its target is refused before anything else', async t => {
  const { chain } = await openChain(t)
  const good = BranchBuilder.on(chain, chain.tip).next()
  const target = bitsToTarget(good.header.data.bits)
  let header = good.header
  for (let n = 0; header.powHash <= target; n++) header = Header.create({ ...good.header.data, nonce: new Uint8Array([0, 0, 0, 0, 0, 0, n >> 8, n & 0xff]) })
  const bad = new Block(header, good.txs)
  await assert.rejects(chain.processBlock(bad), isBlockError('BAD_POW'))
  await assertNotStored(chain, bad)
  assert.deepEqual(await chain.processBlock(good), { status: 'connected' })
})
