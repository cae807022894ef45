import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { TestChain } from './helpers/chain-harness.ts'
import { COIN } from '../src/core/amount.ts'
import type { Block } from '../src/core/block.ts'
import { TxError } from '../src/core/errors.ts'
import { entryUsage } from '../src/chain/mempool-usage.ts'
import type { KeyPair } from '../src/core/keys.ts'
import { chainTag, getNetwork, subsidyAt } from '../src/core/params.ts'
import { OutPoint } from '../src/core/outpoint.ts'
import { signTransaction, Tx } from '../src/core/tx.ts'
import { BranchBuilder, mineBlocks, mineOn, newKey, openChain, outputOf, regtest, spendTx, type ChainWorkspace, type OpenOptions, type Spendable } from './helpers/chain-harness.ts'

/** Size of a one-input, one-output spend of a coinbase (DAG-CBOR is fixed-width for these amounts). */
const SPEND_BYTES = 239
/** What such a spend is charged in memory: pool bounds below are counted in it. */
const SPEND_USAGE = entryUsage(spendTx({ chainTag: chainTag(regtest) }, [{ txid: Tx.create({ version: 1, height: 1, inputs: [], outputs: [{ amount: 50n * COIN, address: new Uint8Array(20) }] }).id, index: 0, amount: 50n * COIN }], newKey()))

interface Fixture { chain: TestChain, ws: ChainWorkspace, key: KeyPair, blocks: Block[], coins: Spendable[], accepted: string[], removed: string[] }

/** 20 blocks to `key`: the coinbases of heights 1..11 are spendable in the next block. */
async function fixture (t: TestContext, opts: OpenOptions = {}): Promise<Fixture> {
  const { chain, ws } = await openChain(t, opts)
  const key = newKey()
  const blocks = await mineBlocks(chain, ws.clock, 20, key.addressHash)
  const accepted: string[] = []
  const removed: string[] = []
  chain.on('tx:accepted', e => accepted.push(e.tx.idString))
  chain.on('tx:removed', txs => removed.push(...txs.map(tx => tx.idString)))
  return { chain, ws, key, blocks, coins: blocks.map(b => outputOf(b.txs[0])), accepted, removed }
}

/** A one-in, one-out spend paying about `rate` base units per byte. */
function spendAtRate (f: Fixture, coin: Spendable, rate: number): Tx {
  return spendTx(f.chain, [coin], f.key, { fee: BigInt(rate * SPEND_BYTES) })
}

/** The ids in the mempool, to compare with a set of transactions' ids. */
function poolIds (chain: TestChain): Set<string> {
  return new Set([...chain.mempool.entries()].map(e => e.tx.idString))
}

/** A pool with room for three spends, full: a parent at 5 a byte, its child at `childRate`, and an unrelated one at 30. */
async function familyPool (t: TestContext, childRate: number): Promise<{ f: Fixture, low: Tx, child: Tx, mid: Tx }> {
  const f = await fixture(t, { mempoolMaxBytes: 3 * SPEND_USAGE + 120 })
  const low = spendAtRate(f, f.coins[0], 5)
  const child = spendAtRate(f, outputOf(low), childRate)
  const mid = spendAtRate(f, f.coins[1], 30)
  for (const tx of [low, child, mid]) await f.chain.acceptTx(tx)
  return { f, low, child, mid }
}

async function rejectsWith (f: Fixture, tx: Tx, code: string): Promise<void> {
  const size = f.chain.mempool.size
  await assert.rejects(f.chain.acceptTx(tx), (err: unknown) => {
    assert.ok(err instanceof TxError, `a TxError, got ${String(err)}`)
    assert.equal(err.code, code)
    return true
  })
  assert.equal(f.chain.mempool.size, size)
}

test('a chain of three unconfirmed transactions spending each other\'s change is accepted and mined in order', async t => {
  const f = await fixture(t)
  const { chain, key } = f
  const payee = newKey()
  const tx1 = spendTx(chain, [f.coins[0]], key, { outputs: [{ amount: 10n * COIN, address: payee.addressHash }, { amount: 40n * COIN - 1_000n, address: key.addressHash }] })
  const tx2 = spendTx(chain, [outputOf(tx1, 1)], key, { outputs: [{ amount: 5n * COIN, address: payee.addressHash }, { amount: 35n * COIN - 3_000n, address: key.addressHash }] })
  const tx3 = spendTx(chain, [outputOf(tx2, 1)], key, { fee: 2_000n })
  for (const tx of [tx1, tx2, tx3]) {
    const entry = await chain.acceptTx(tx)
    assert.equal(entry.size, tx.bytes.length)
    assert.equal(entry.feeRate, Number(entry.fee) / entry.size)
  }
  assert.deepEqual([tx1, tx2, tx3].map(tx => chain.mempool.get(tx.idString)?.fee), [1_000n, 2_000n, 2_000n])
  assert.equal(chain.mempool.size, 3)
  assert.equal(chain.mempool.bytes, tx1.bytes.length + tx2.bytes.length + tx3.bytes.length)
  assert.deepEqual(f.accepted, [tx1.idString, tx2.idString, tx3.idString])
  assert.equal((await chain.getTx(tx2.id))?.idString, tx2.idString, 'mempool transactions are found by id')

  const template = await chain.templates.newTemplate(key.addressHash)
  assert.deepEqual(template.txs.slice(1).map(tx => tx.idString), [tx1.idString, tx2.idString, tx3.idString])
  assert.equal(template.fees, 5_000n)
  assert.equal(template.txs[0].data.outputs[0].amount, subsidyAt(regtest, 21) + 5_000n)

  await mineBlocks(chain, f.ws.clock, 1, key.addressHash)
  assert.equal(chain.mempool.size, 0)
  assert.equal(chain.mempool.bytes, 0)
  assert.deepEqual(new Set(f.removed), new Set([tx1.idString, tx2.idString, tx3.idString]))
  const coins = await chain.getCoins([`${tx1.idString}:0`, `${tx1.idString}:1`, `${tx2.idString}:0`, `${tx3.idString}:0`])
  assert.deepEqual([...coins.keys()], [`${tx1.idString}:0`, `${tx2.idString}:0`, `${tx3.idString}:0`])
  assert.equal(coins.get(`${tx3.idString}:0`)?.amount, 35n * COIN - 5_000n)

  // Once confirmed it is still known.
  await rejectsWith(f, tx1, 'ALREADY_KNOWN')
  assert.equal((await chain.verifyChain()).ok, true)
})

test('the mempool refuses what does not qualify, each with its code', async t => {
  const f = await fixture(t)
  const { chain, key, coins, blocks } = f
  const first = spendTx(chain, [coins[1]], key, { fee: 5_000n })
  await chain.acceptTx(first)

  await rejectsWith(f, first, 'ALREADY_KNOWN')
  await rejectsWith(f, spendTx(chain, [coins[1]], key, { fee: 9_000n }), 'CONFLICT')
  await rejectsWith(f, spendTx(chain, [{ ...coins[2], index: 1 }], key), 'MISSING_INPUT')
  await rejectsWith(f, spendTx(chain, [outputOf(blocks[19].txs[0])], key), 'IMMATURE_SPEND')
  await rejectsWith(f, spendTx({ chainTag: chainTag(getNetwork('lan')) }, [coins[2]], key), 'BAD_SIGNATURE')
  const forged = spendTx(chain, [coins[2]], key)
  const flipped = new Uint8Array(forged.data.inputs[0].sig)
  flipped[10] ^= 1
  await rejectsWith(f, Tx.create({ ...forged.data, inputs: [{ ...forged.data.inputs[0], sig: flipped }] }), 'BAD_SIGNATURE')
  const thief = newKey()
  await rejectsWith(f, spendTx(chain, [coins[2]], thief), 'WRONG_KEY')
  await rejectsWith(f, spendTx(chain, [coins[2]], key, { fee: 0n }), 'FEE_TOO_LOW')
  await rejectsWith(f, spendTx(chain, [coins[2]], key, { fee: -1n }), 'INSUFFICIENT_INPUTS')
  await rejectsWith(f, Tx.create({ version: 1, height: 99, inputs: [], outputs: [{ amount: COIN, address: key.addressHash }] }), 'COINBASE_IN_MEMPOOL')
  await rejectsWith(f, spendTx(chain, [coins[2], coins[2]], key), 'DUPLICATE_INPUT')

  // The maturity boundary: the coinbase of height 11 is spendable at 21, the one of 12 is not.
  await chain.acceptTx(spendTx(chain, [coins[10]], key))
  await rejectsWith(f, spendTx(chain, [coins[11]], key), 'IMMATURE_SPEND')
  assert.deepEqual(f.accepted.length, 2)
  assert.equal(chain.mempool.size, 2)
})

test('a spend with an unsigned input is refused', async t => {
  const f = await fixture(t)
  const other = newKey()
  const tx = signTransaction({
    version: 1,
    inputs: [
      { prev: OutPoint.of(f.coins[0].txid, 0), pubkey: f.key.publicKey, sig: new Uint8Array(64) },
      { prev: OutPoint.of(f.coins[1].txid, 0), pubkey: f.key.publicKey, sig: new Uint8Array(64) }
    ],
    outputs: [{ amount: 99n * COIN, address: f.key.addressHash }]
  }, [f.key.privateKey, other.privateKey], f.chain.chainTag)
  await rejectsWith(f, tx, 'BAD_SIGNATURE')
})

test('templates take packages by ancestor fee rate, parents before their children: a child pays for its cheap parent', async t => {
  const f = await fixture(t)
  const { chain, key, coins } = f
  const lowParent = spendAtRate(f, coins[0], 4)
  const child = spendAtRate(f, outputOf(lowParent), 600)
  const high = spendAtRate(f, coins[1], 300)
  const mid = spendAtRate(f, coins[2], 120)
  for (const tx of [lowParent, child, high, mid]) await chain.acceptTx(tx)
  const template = await chain.templates.newTemplate(key.addressHash)
  // The parent with its child pay 302 a byte together, above `high`'s 300.
  assert.deepEqual(template.txs.slice(1).map(tx => tx.idString), [lowParent, child, high, mid].map(tx => tx.idString))
  const fees = [lowParent, child, high, mid].reduce((s, tx) => s + (chain.mempool.get(tx.idString)?.fee ?? 0n), 0n)
  assert.equal(template.fees, fees)
  assert.equal(template.txs[0].data.outputs[0].amount, subsidyAt(regtest, 21) + fees)
  const block = await mineOn(chain, key.addressHash)
  assert.deepEqual(await chain.processBlock(block), { status: 'connected' })
  assert.equal(chain.mempool.size, 0)
})

test('a template chosen in slices serves the event loop after its last slice too: the block built from it starts in a turn of its own', async t => {
  const f = await fixture(t)
  const { chain, coins } = f
  for (let n = 0; n < 3; n++) await chain.acceptTx(spendAtRate(f, coins[n], 10 + n))
  // A pool this small is chosen in one slice: before, the caller went on in the same turn.
  let served = false
  setImmediate(() => { served = true })
  const selected = await chain.mempool.selectForBlock(regtest.maxBlockBytes)
  assert.equal(selected.length, 3)
  assert.ok(served, 'the event loop had a turn before the selection returned')
  // The same template again (the pool did not change): nothing to share, so no turn taken.
  served = false
  setImmediate(() => { served = true })
  assert.equal(await chain.mempool.selectForBlock(regtest.maxBlockBytes), selected)
  assert.equal(served, false)
})

test('a full mempool evicts the lowest fee rate; a newcomer with the lowest is refused', async t => {
  const f = await fixture(t, { mempoolMaxBytes: 3 * SPEND_USAGE + 120 })
  const { chain, coins } = f
  const t10 = spendAtRate(f, coins[0], 10)
  const t30 = spendAtRate(f, coins[1], 30)
  const t20 = spendAtRate(f, coins[2], 20)
  for (const tx of [t10, t30, t20]) await chain.acceptTx(tx)
  assert.equal(chain.mempool.bytes, 3 * SPEND_BYTES)

  const t25 = spendAtRate(f, coins[3], 25)
  await chain.acceptTx(t25)
  assert.equal(chain.mempool.has(t10.idString), false)
  assert.deepEqual(f.removed, [t10.idString], 'eviction is announced')
  assert.deepEqual(poolIds(chain), new Set([t30, t20, t25].map(tx => tx.idString)))
  assert.equal(chain.mempool.usage, 3 * SPEND_USAGE)
  assert.ok(chain.mempool.usage <= chain.mempool.maxBytes)

  await rejectsWith(f, spendAtRate(f, coins[4], 5), 'MEMPOOL_FULL')
  // Equal to the lowest is not enough either.
  await rejectsWith(f, spendAtRate(f, coins[4], 20), 'MEMPOOL_FULL')

  // A large newcomer would have to evict t20 (lower) and t25 (higher): refused, and nothing is lost.
  const big = spendTx(chain, [coins[5], coins[6]], f.key, { fee: BigInt(22 * 405) })
  assert.equal(big.bytes.length, 405)
  await rejectsWith(f, big, 'MEMPOOL_FULL')
  assert.deepEqual(poolIds(chain), new Set([t30, t20, t25].map(tx => tx.idString)))
  assert.deepEqual(f.removed, [t10.idString])
})

test('eviction never takes an ancestor of the newcomer', async t => {
  const f = await fixture(t, { mempoolMaxBytes: 4 * SPEND_USAGE + 120 })
  const { chain, coins } = f
  const a = spendAtRate(f, coins[0], 2)
  const b = spendAtRate(f, outputOf(a), 50)
  const x = spendAtRate(f, coins[1], 10)
  const y = spendAtRate(f, coins[2], 40)
  for (const tx of [a, b, x, y]) await chain.acceptTx(tx)
  const c = spendAtRate(f, outputOf(b), 50)
  await chain.acceptTx(c)
  assert.deepEqual(poolIds(chain), new Set([a, b, y, c].map(tx => tx.idString)))
  assert.deepEqual(f.removed, [x.idString])
  const template = await chain.templates.newTemplate(f.key.addressHash)
  const order = template.txs.map(tx => tx.idString)
  assert.ok(order.indexOf(a.idString) < order.indexOf(b.idString) && order.indexOf(b.idString) < order.indexOf(c.idString))
  await mineBlocks(chain, f.ws.clock, 1, f.key.addressHash)
  assert.equal(chain.mempool.size, 0)
  assert.equal((await chain.verifyChain()).ok, true)
})

test('evicting a transaction takes its descendants along', async t => {
  // The two pay 10 a byte together: less than the newcomer.
  const { f, low, child: lowChild, mid } = await familyPool(t, 15)
  const { chain, coins } = f
  const newcomer = spendAtRate(f, coins[2], 20)
  await chain.acceptTx(newcomer)
  assert.deepEqual(poolIds(chain), new Set([mid, newcomer].map(tx => tx.idString)))
  assert.equal(chain.mempool.bytes, 2 * SPEND_BYTES)
  assert.deepEqual(new Set(f.removed), new Set([low.idString, lowChild.idString]))
})

test('a cheap parent is judged with the child that pays for it: a newcomer paying less than the two together evicts nothing, and the next is refused unverified', async t => {
  const { f, low, child, mid } = await familyPool(t, 60)
  const { chain, coins } = f
  await rejectsWith(f, spendAtRate(f, coins[2], 20), 'MEMPOOL_FULL')
  assert.deepEqual(poolIds(chain), new Set([low, child, mid].map(tx => tx.idString)))
  assert.deepEqual(f.removed, [])
  // Below the lowest package (30) while full: refused before its signature is verified.
  const next = spendAtRate(f, coins[3], 25)
  await rejectsWith(f, next, 'MEMPOOL_FULL')
  assert.equal(chain.verifier.has(next.idString), false)
  // Above it: mid goes.
  const better = spendAtRate(f, coins[4], 31)
  await chain.acceptTx(better)
  assert.deepEqual(f.removed, [mid.idString])
})

test('a block spending what a mempool transaction spends removes it and its descendants', async t => {
  const f = await fixture(t)
  const { chain, key, coins } = f
  const mine = spendTx(chain, [coins[3]], key)
  const mineChild = spendTx(chain, [outputOf(mine)], key)
  const unrelated = spendTx(chain, [coins[4]], key)
  for (const tx of [mine, mineChild, unrelated]) await chain.acceptTx(tx)
  const rival = spendTx(chain, [coins[3]], key, { fee: 77_000n })
  const block = BranchBuilder.on(chain, chain.tip).next({ txs: [rival] })
  assert.deepEqual(await chain.processBlock(block), { status: 'connected' })
  assert.deepEqual(new Set(f.removed), new Set([mine.idString, mineChild.idString]))
  assert.deepEqual([...chain.mempool.entries()].map(e => e.tx.idString), [unrelated.idString])
})

test('a block mining only the parent keeps the child, which then counts no unconfirmed parent', async t => {
  const f = await fixture(t)
  const { chain, key } = f
  const parent = spendTx(chain, [f.coins[0]], key, { outputs: [{ amount: 40n * COIN, address: key.addressHash }, { amount: 10n * COIN - 1_000n, address: key.addressHash }] })
  const child = spendTx(chain, [outputOf(parent, 0)], key)
  const grandchild = spendTx(chain, [outputOf(child, 0)], key)
  for (const tx of [parent, child, grandchild]) await chain.acceptTx(tx)
  f.ws.clock.now += regtest.targetBlockTime
  const block = BranchBuilder.on(chain, chain.tip).next({ txs: [parent] })
  assert.deepEqual(await chain.processBlock(block), { status: 'connected' })
  assert.deepEqual([...chain.mempool.entries()].map(e => e.tx.idString), [child.idString, grandchild.idString])
  // Its template takes the child first, then the grandchild, whose parent is still unconfirmed.
  assert.deepEqual((await chain.templates.newTemplate(key.addressHash)).txs.slice(1).map(tx => tx.idString), [child.idString, grandchild.idString])
  // Evicting the child by a conflicting block takes the grandchild along: the links still hold.
  const conflict = spendTx(chain, [outputOf(parent, 0)], key, { fee: 5_000n })
  f.ws.clock.now += regtest.targetBlockTime
  assert.deepEqual(await chain.processBlock(BranchBuilder.on(chain, chain.tip).next({ txs: [conflict] })), { status: 'connected' })
  assert.equal(chain.mempool.size, 0)
  assert.equal((await chain.verifyChain()).ok, true)
})
