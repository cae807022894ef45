import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { MempoolView } from '../src/chain/ports.ts'
import type { TestChain } from './helpers/chain-harness.ts'
import { entryUsage } from '../src/chain/mempool-usage.ts'
import { COIN } from '../src/core/amount.ts'
import { TxError } from '../src/core/errors.ts'
import { Tx } from '../src/core/tx.ts'
import { fromHex } from '../src/core/hash.ts'
import { chainTag, genesisBlock } from '../src/core/params.ts'
import { mineBlocks, mineOn, newKey, openChain, outputOf, regtest, spendTx } from './helpers/chain-harness.ts'
import { miningChain, newKey as newTestKey, rpc, startNode } from './helpers/node-harness.ts'
import { fundCoins, SPEND_BYTES, spendChain } from './helpers/pool.ts'

/** Rejects with a TxError of `code` whose message matches `message`. */
async function refused (chain: TestChain, tx: Tx, code: string, message?: RegExp): Promise<TxError> {
  let caught: unknown
  await assert.rejects(chain.acceptTx(tx), (err: unknown) => {
    caught = err
    assert.ok(err instanceof TxError, `a TxError, got ${String(err)}`)
    assert.equal(err.code, code, err.message)
    if (message !== undefined) assert.match(err.message, message)
    return true
  })
  return caught as TxError
}

/** The pool's usage is the sum of its entries' estimates. */
function assertUsage (chain: { mempool: MempoolView }): void {
  let usage = 0
  let bytes = 0
  for (const e of chain.mempool.entries()) {
    usage += entryUsage(e.tx)
    bytes += e.size
  }
  assert.equal(chain.mempool.usage, usage)
  assert.equal(chain.mempool.bytes, bytes)
  assert.ok(usage <= chain.mempool.maxBytes)
}

test('a chain of 10,000 unconfirmed transactions is refused from the 26th on, with a code naming the limit, unverified; the 25 make a block and the chain goes on', async t => {
  const { chain, ws } = await openChain(t)
  const key = newKey()
  const blocks = await mineBlocks(chain, ws.clock, chain.params.coinbaseMaturity + 1, key.addressHash)
  // Fee rates rising along the chain: each child pays more than its parent.
  const txs = spendChain(chain, key, outputOf(blocks[0].txs[0]), 10_000, d => 2 + d / 100)
  for (const tx of txs.slice(0, 25)) await chain.acceptTx(tx)
  await refused(chain, txs[25], 'TOO_MANY_ANCESTORS', /would make 26 unconfirmed transactions with its ancestors, over the limit of 25/)
  assert.equal(chain.verifier.has(txs[25].idString), false, 'refused before its signature is verified')
  // The rest spend what was refused.
  for (const tx of txs.slice(26)) await refused(chain, tx, 'MISSING_INPUT')
  assert.equal(chain.mempool.size, 25)
  assertUsage(chain)

  const template = await chain.templates.newTemplate(key.addressHash)
  assert.deepEqual(template.txs.slice(1).map(tx => tx.idString), txs.slice(0, 25).map(tx => tx.idString))
  await mineBlocks(chain, ws.clock, 1, key.addressHash)
  assert.equal(chain.mempool.size, 0)
  assertUsage(chain)
  // Once its ancestors confirmed, the chain goes on for another 25.
  for (const tx of txs.slice(25, 50)) await chain.acceptTx(tx)
  await refused(chain, txs[50], 'TOO_MANY_ANCESTORS')
  await mineBlocks(chain, ws.clock, 1, key.addressHash)
  assert.equal((await chain.verifyChain()).ok, true)
})

test('a transaction with 24 unconfirmed descendants takes no 25th, at any depth; the refusal names the ancestor and the numbers', async t => {
  const { chain, ws } = await openChain(t)
  const key = newKey()
  const blocks = await mineBlocks(chain, ws.clock, chain.params.coinbaseMaturity + 1, key.addressHash)
  const coinbase = outputOf(blocks[0].txs[0])
  const parent = spendTx(chain, [coinbase], key, { outputs: Array.from({ length: 30 }, () => ({ amount: COIN, address: key.addressHash })) })
  await chain.acceptTx(parent)
  const children = Array.from({ length: 30 }, (_, n) => spendTx(chain, [outputOf(parent, n)], key))
  for (const child of children.slice(0, 23)) await chain.acceptTx(child)
  // A grandchild is a descendant too: the parent's 24th.
  const grandchild = spendTx(chain, [outputOf(children[0])], key)
  await chain.acceptTx(grandchild)
  const limit = new RegExp(`ancestor ${parent.idString} 26 transactions with its descendants, over the limit of 25`)
  await refused(chain, children[23], 'TOO_MANY_DESCENDANTS', limit)
  await refused(chain, spendTx(chain, [outputOf(grandchild)], key), 'TOO_MANY_DESCENDANTS', limit)
  assert.equal(chain.mempool.size, 25)
  assertUsage(chain)
  // A block taking the parent frees its children from its count.
  await mineBlocks(chain, ws.clock, 1, key.addressHash)
  for (const child of children.slice(23)) await chain.acceptTx(child)
  assertUsage(chain)
})

test('packages are bounded in bytes too: 101,000 with the ancestors and with the descendants', async t => {
  const { chain, ws } = await openChain(t)
  const key = newKey()
  const blocks = await mineBlocks(chain, ws.clock, chain.params.coinbaseMaturity + 2, key.addressHash)
  /** About 29 kB: 680 outputs of a coin each; the first carries the rest. */
  const big = (coin: { txid: Tx['id'], index: number, amount: bigint }): Tx => spendTx(chain, [coin], key, {
    outputs: [{ amount: coin.amount - 679n * 10_000n - 100_000n, address: key.addressHash }, ...Array.from({ length: 679 }, () => ({ amount: 10_000n, address: key.addressHash }))]
  })
  // Ancestors: a chain of big transactions, each spending the first output of the one before.
  const chainOfBig: Tx[] = [big(outputOf(blocks[0].txs[0]))]
  for (let n = 1; n < 4; n++) chainOfBig.push(big(outputOf(chainOfBig[n - 1])))
  const size = chainOfBig[0].bytes.length
  assert.ok(size > 27_000 && size < 33_000, `a big transaction of ${size} bytes`)
  for (const tx of chainOfBig.slice(0, 3)) await chain.acceptTx(tx)
  const total = chainOfBig.reduce((s, tx) => s + tx.bytes.length, 0)
  await refused(chain, chainOfBig[3], 'ANCESTORS_TOO_LARGE', new RegExp(`would make ${total} bytes, over the limit of 101000`))
  // Descendants: big children of one small parent, each with just the parent as ancestor.
  const parent = spendTx(chain, [outputOf(blocks[1].txs[0])], key, { outputs: Array.from({ length: 4 }, () => ({ amount: 12n * COIN, address: key.addressHash })) })
  await chain.acceptTx(parent)
  const bigChildren = Array.from({ length: 4 }, (_, n) => big(outputOf(parent, n)))
  for (const child of bigChildren.slice(0, 3)) await chain.acceptTx(child)
  await refused(chain, bigChildren[3], 'DESCENDANTS_TOO_LARGE', new RegExp(`ancestor ${parent.idString} \\d+ bytes with its descendants, over the limit of 101000`))
  assertUsage(chain)
  const block = await mineOn(chain, key.addressHash)
  assert.deepEqual(await chain.processBlock(block), { status: 'connected' })
})

test('an entry holds its own copy of bytes that view a larger buffer, and is charged for what it holds', async t => {
  const { chain, ws } = await openChain(t)
  const key = newKey()
  const blocks = await mineBlocks(chain, ws.clock, chain.params.coinbaseMaturity + 1, key.addressHash)
  const tx = spendTx(chain, [outputOf(blocks[0].txs[0])], key)
  // As a transaction decoded from a block or a gossip frame: a view of a much larger message.
  const message = new Uint8Array(1_000_000)
  message.set(tx.bytes, 1_000)
  const viewed = Tx.fromBytes(message.subarray(1_000, 1_000 + tx.bytes.length))
  const entry = await chain.acceptTx(viewed)
  assert.equal(entry.tx.idString, tx.idString)
  assert.equal(entry.tx.bytes.buffer.byteLength, tx.bytes.length, 'the entry pins only its own bytes')
  assert.equal(chain.mempool.findByBytes(tx.bytes), entry.tx)
  assertUsage(chain)
  assert.ok(chain.mempool.usage > 5 * tx.bytes.length, `a ${tx.bytes.length}-byte transaction costs more than its bytes (${chain.mempool.usage})`)
})

test('a full pool of 25-long chains: eviction looks at the lowest package alone; getblocktemplate takes the best packages whole, parents first, without the stall of the old selection, and its block connects', async t => {
  const CHAINS = 400
  const LENGTH = 25
  const ROUNDS = 3
  const key = newTestKey()
  const sample = spendTx({ chainTag: chainTag(regtest) }, [{ txid: genesisBlock(regtest).txs[0].id, index: 0, amount: 4_000_000n }], key)
  assert.equal(sample.bytes.length, SPEND_BYTES)
  const node = await startNode(t, { mempoolMaxBytes: CHAINS * LENGTH * entryUsage(sample) })
  const { chain } = node
  const coins = await fundCoins(miningChain(node), { now: 0 }, key, CHAINS + ROUNDS)
  // Base rates from 1 to 40.9 a byte in a scrambled order, rising by 0.5 a byte along each chain.
  const base = (c: number): number => 1 + ((c * 151) % CHAINS) / 10
  const chains = coins.slice(0, CHAINS).map((coin, c) => spendChain(chain, key, coin, LENGTH, d => base(c) + d / 2))
  for (const txs of chains) for (const tx of txs) await chain.acceptTx(tx)
  assert.equal(node.mempool.size, CHAINS * LENGTH)
  assert.equal(node.mempool.usage, node.mempool.maxBytes, 'the pool is full')
  const newcomers = coins.slice(CHAINS).map(coin => spendTx(chain, [coin], key, { fee: 100n * BigInt(SPEND_BYTES) }))

  // A newcomer evicts the package paying least (the chain of base 1, with all its descendants), found without a look at the rest.
  const removed: string[] = []
  chain.on('tx:removed', txs => removed.push(...txs.map(tx => tx.idString)))
  const lookups = node.mempool.evictionLookups
  await chain.acceptTx(newcomers[0])
  assert.equal(node.mempool.evictionLookups - lookups, 1, 'one index entry looked at')
  assert.equal(base(0), 1)
  assert.deepEqual(new Set(removed), new Set(chains[0].map(tx => tx.idString)))
  assertUsage(node)

  // Timed after a change each time (a template holds while the pool does): the best of three, the machine being shared.
  let template = { txs: [] as string[] }
  let fastest = Infinity
  for (let round = 1; round <= ROUNDS; round++) {
    const started = performance.now()
    template = await rpc(node, 'getblocktemplate', [key.address])
    fastest = Math.min(fastest, performance.now() - started)
    if (round < ROUNDS) await chain.acceptTx(newcomers[round])
  }
  // The bound catches the selection of before (the block's capacity times the pool: 43.8 s for one chain of 10,000), not the
  // machine's speed: a few ms alone, up to 0.9 s seen while other test suites loaded both cores. bench/mempool.ts times it.
  assert.ok(fastest < 2_000, `getblocktemplate took ${fastest.toFixed(1)} ms at best`)
  const ids = template.txs.slice(1).map(hex => Tx.fromBytes(fromHex(hex)).idString)
  const position = new Map(ids.map((id, n) => [id, n]))
  // The best packages whole: the newcomers, then 169 chains of 5,875 bytes fill most of the 999,000 a template may take.
  const paid = (txs: Tx[]): bigint => txs.reduce((s, tx) => s + (node.mempool.get(tx.idString)?.fee ?? 0n), 0n)
  const best = [...newcomers.map(tx => [tx]), ...chains.sort((a, b) => Number(paid(b) - paid(a))).slice(0, 169)]
  for (const txs of best) for (const tx of txs) assert.ok(position.has(tx.idString), 'a transaction of one of the best packages is missing')
  assert.ok(ids.reduce((s, id) => s + (node.mempool.get(id)?.size ?? 0), 0) <= 999_000)
  // Parents first.
  for (const id of ids) {
    const tx = node.mempool.get(id)?.tx as Tx
    for (const input of tx.data.inputs) assert.ok((position.get(input.prev.txid.toString()) ?? -1) < (position.get(id) as number))
  }
  const info = await rpc(node, 'getmempoolinfo')
  assert.deepEqual(info, { ...info, size: node.mempool.size, bytes: node.mempool.bytes, usage: node.mempool.usage, maxbytes: node.mempool.maxBytes })

  const size = node.mempool.size
  const block = await mineOn(miningChain(node), key.addressHash)
  assert.deepEqual(block.txs.slice(1).map(tx => tx.idString), ids, 'the same selection')
  assert.deepEqual(await chain.processBlock(block), { status: 'connected' })
  assert.equal(node.mempool.size, size - ids.length)
  assertUsage(node)
  // What is left (chains some of whose parents were mined) makes the next block.
  assert.deepEqual(await chain.processBlock(await mineOn(miningChain(node), key.addressHash)), { status: 'connected' })
  assertUsage(node)
})
