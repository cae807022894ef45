import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { TestChain } from './helpers/chain-harness.ts'
import type { BlockEntry } from '../src/chain/types.ts'
import { COIN } from '../src/core/amount.ts'
import type { Block } from '../src/core/block.ts'
import { cidOf } from '../src/core/cbor.ts'
import { BlockError } from '../src/core/errors.ts'
import type { KeyPair } from '../src/core/keys.ts'
import { getNetwork, chainTag, subsidyAt } from '../src/core/params.ts'
import type { Tx } from '../src/core/tx.ts'
import { BranchBuilder, chainWorkspace, mineBlocks, newKey, outputOf, regtest, spendTx, type BranchBlockOptions, type ChainWorkspace } from './helpers/chain-harness.ts'

interface Fixture { ws: ChainWorkspace, chain: TestChain, key: KeyPair, main: Block[], pending: Tx }

/** 12 blocks to `key`, and a transaction spending the first coinbase waiting in the mempool. */
async function fixture (t: TestContext): Promise<Fixture> {
  const ws = await chainWorkspace(t)
  const chain = await ws.open()
  const key = newKey()
  const main = await mineBlocks(chain, ws.clock, 12, key.addressHash)
  const pending = spendTx(chain, [outputOf(main[0].txs[0])], key)
  await chain.acceptTx(pending)
  return { ws, chain, key, main, pending }
}

interface BadCase {
  name: string
  /** The invalid block's contents; main[0]'s coinbase is already spent by an earlier block of its branch. */
  bad: (f: Fixture, height: number) => BranchBlockOptions
  code: string
  txCode?: string
}

const cases: BadCase[] = [
  {
    name: 'a bad signature',
    bad: f => ({ txs: [spendTx({ chainTag: chainTag(getNetwork('lan')) }, [outputOf(f.main[1].txs[0])], f.key)] }),
    code: 'BAD_TX',
    txCode: 'BAD_SIGNATURE'
  },
  {
    name: 'a double spend inside the block',
    bad: f => ({
      txs: [
        spendTx(f.chain, [outputOf(f.main[1].txs[0])], f.key, { fee: 1_000n }),
        spendTx(f.chain, [outputOf(f.main[1].txs[0])], f.key, { fee: 2_000n })
      ]
    }),
    code: 'DOUBLE_SPEND'
  },
  {
    name: 'a coin an earlier block of its branch spent',
    bad: f => ({ txs: [spendTx(f.chain, [outputOf(f.main[0].txs[0])], f.key, { fee: 3_000n })] }),
    code: 'BAD_TX',
    txCode: 'MISSING_INPUT'
  },
  {
    name: 'an overspending coinbase',
    bad: (f, height) => ({ coinbaseOutputs: [{ amount: subsidyAt(regtest, height) + 1n, address: f.key.addressHash }] }),
    code: 'BAD_COINBASE_VALUE'
  }
]

async function assertRejects (promise: Promise<unknown>, code: string, txCode?: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof BlockError, `a BlockError, got ${String(err)}`)
    assert.equal(err.code, code)
    if (txCode !== undefined) assert.equal(err.cause?.code, txCode)
    return true
  })
}

for (const c of cases) {
  test(`a heavier branch with ${c.name} deep inside is tried, rejected, and the old chain stays`, async t => {
    const f = await fixture(t)
    const { chain, main, pending } = f
    const before = chain.utxoSummary()
    let tipEvents = 0
    chain.on('tip', () => { tipEvents++ })

    // B11 mines the mempool's transaction (spending main[0]'s coinbase); B12 is the invalid one.
    const builder = BranchBuilder.on(chain, chain.getEntryAt(10) as BlockEntry)
    const b11 = builder.next({ txs: [pending] })
    const b12 = builder.next(c.bad(f, 12))
    const b13 = builder.next()
    const b14 = builder.next()
    assert.deepEqual(await chain.processBlock(b11), { status: 'side' })
    // Equal work: stored, not yet connected, so not yet found invalid.
    assert.deepEqual(await chain.processBlock(b12), { status: 'side' })
    // More work: the chain switches, fails at b12, and goes back.
    await assertRejects(chain.processBlock(b13), 'PREV_INVALID')

    assert.equal(chain.tip.idString, main[11].idString)
    assert.deepEqual(chain.utxoSummary(), before)
    assert.equal(tipEvents, 0)
    assert.equal(chain.getEntry(b11.idString)?.height, 11, 'the valid part of the branch stays')
    assert.equal(chain.getEntry(b12.idString), undefined)
    assert.equal(chain.getEntry(b13.idString), undefined)
    for (const b of [b12, b13]) {
      assert.equal(chain.blockInfo(b.idString)?.validity, 'invalid')
      assert.equal(await chain.getBlock(b.id), undefined, 'an invalid block is not served')
    }
    // Neither is left in the blockstore: b13 came in this call and is dropped from its snapshot; b12, stored
    // earlier on the side, loses what no valid block holds. Their headers are kept aside for getblock.
    for (const b of [b12, b13]) {
      assert.equal(await chain.store.getRaw(b.id), undefined)
      assert.equal(await chain.store.getRaw(cidOf(b.txList)), undefined)
      for (const tx of b.txs) assert.equal(await chain.store.getRaw(tx.id), undefined, `${b === b12 ? 'b12' : 'b13'}'s transaction ${tx.idString}`)
      assert.equal((await chain.getHeader(b.id))?.idString, b.idString)
    }
    assert.equal((await chain.getBlock(b11.id))?.txs[1].idString, pending.idString, 'the valid block before them keeps its transactions')
    assert.equal(chain.mempool.has(pending.idString), true, 'a mempool transaction mined on the failed branch is kept')
    const check = await chain.verifyChain()
    assert.equal(check.ok, true, check.mismatches.join('\n'))

    await assertRejects(chain.processBlock(b14), 'PREV_INVALID')
    await assertRejects(chain.processBlock(b12), 'KNOWN_INVALID')
    await assertRejects(chain.processBlock(b13), 'KNOWN_INVALID')
    assert.equal(chain.tip.idString, main[11].idString)

    // The verdict is stored: after a restart the branch is still known invalid.
    await chain.stop()
    const again = await f.ws.open()
    assert.equal(again.tip.idString, main[11].idString)
    await assertRejects(again.processBlock(b13), 'KNOWN_INVALID')
    assert.deepEqual(await again.processBlock(b11), { status: 'known' })
    assert.equal((await again.verifyChain()).ok, true)
  })

  test(`a block with ${c.name} that would become the tip is rejected with its code`, async t => {
    const f = await fixture(t)
    const { chain, main, key } = f
    const before = chain.utxoSummary()
    const builder = BranchBuilder.on(chain, chain.getEntryAt(11) as BlockEntry)
    assert.deepEqual(await chain.processBlock(builder.next({ txs: [spendTx(chain, [outputOf(main[0].txs[0])], key, { fee: 500n })] })), { status: 'side' })
    const bad = builder.next(c.bad(f, 13))
    await assertRejects(chain.processBlock(bad), c.code, c.txCode)
    assert.equal(chain.tip.idString, main[11].idString)
    assert.deepEqual(chain.utxoSummary(), before)
    await assertRejects(chain.processBlock(bad), 'KNOWN_INVALID')
    await assertRejects(chain.processBlock(builder.next()), 'PREV_INVALID')
    assert.equal((await chain.verifyChain()).ok, true)
  })
}

test('an invalid block on the tip is rejected and the next valid block connects', async t => {
  const f = await fixture(t)
  const { chain, ws, key } = f
  const bad = BranchBuilder.on(chain, chain.tip).next({ coinbaseOutputs: [{ amount: 51n * COIN, address: key.addressHash }] })
  await assertRejects(chain.processBlock(bad), 'BAD_COINBASE_VALUE')
  assert.equal(chain.height, 12)
  const [good] = await mineBlocks(chain, ws.clock, 1, key.addressHash)
  assert.equal(chain.tip.idString, good.idString)
  assert.equal(chain.mempool.size, 0)
})
