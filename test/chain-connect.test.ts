import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ChainError } from '../src/chain/ports.ts'
import type { BlockEntry, TipChange } from '../src/chain/types.ts'
import type { Block } from '../src/core/block.ts'
import { COIN } from '../src/core/amount.ts'
import { genesisBlock, subsidyAt } from '../src/core/params.ts'
import { headersAfterLocator, idsAfterLocator } from '../src/p2p/block-server.ts'
import { BranchBuilder, mineBlocks, mineOn, newKey, openChain, outputOf, regtest, spendTx } from './helpers/chain-harness.ts'

const genesis = genesisBlock(regtest)

test('a new chain starts at genesis with its one coin', async t => {
  const { chain } = await openChain(t)
  assert.equal(chain.height, 0)
  assert.equal(chain.tip.idString, genesis.idString)
  assert.equal(chain.tip.prev, null)
  assert.deepEqual(chain.utxoSummary(), { height: 0, tip: genesis.idString, txouts: 1, total: 50n * COIN })
  assert.deepEqual(chain.locator(), [genesis.idString])
  assert.equal((await chain.verifyChain()).ok, true)
})

test('mined blocks connect one by one: heights, events, UTXO totals, lookups', async t => {
  const { chain, ws } = await openChain(t)
  const key = newKey()
  const tips: TipChange[] = []
  const connected: Array<[Block, BlockEntry]> = []
  chain.on('tip', change => tips.push(change))
  chain.on('block:connected', (block, entry) => connected.push([block, entry]))

  const blocks = await mineBlocks(chain, ws.clock, 5, key.addressHash)

  assert.equal(chain.height, 5)
  assert.equal(chain.tip.idString, blocks[4].idString)
  assert.deepEqual(blocks.map(b => b.height), [1, 2, 3, 4, 5])
  assert.equal(tips.length, 5)
  tips.forEach((change, i) => {
    assert.equal(change.tip.idString, blocks[i].idString)
    assert.deepEqual(change.disconnected, [])
    assert.deepEqual(change.connected.map(e => e.idString), [blocks[i].idString])
  })
  assert.deepEqual(connected.map(([b, e]) => [b.idString, e.height]), blocks.map(b => [b.idString, b.height]))
  assert.deepEqual(chain.utxoSummary(), { height: 5, tip: blocks[4].idString, txouts: 6, total: 6n * 50n * COIN })

  for (let h = 1; h <= 5; h++) {
    const entry = chain.getEntryAt(h)
    assert.equal(entry?.idString, blocks[h - 1].idString)
    assert.equal(entry?.prev, h === 1 ? genesis.idString : blocks[h - 2].idString)
    assert.equal(chain.isOnBestChain(blocks[h - 1].idString), true)
  }
  assert.equal(chain.getEntryAt(0)?.idString, genesis.idString)
  assert.equal(chain.getEntryAt(6), undefined)
  // Cumulative work grows by one regtest block's work each height.
  assert.equal(chain.getEntryAt(5)?.chainwork, 6n * (chain.getEntryAt(0) as BlockEntry).chainwork)

  const stored = await chain.getBlock(blocks[2].id)
  assert.ok(stored !== undefined)
  assert.deepEqual(stored.encode(), blocks[2].encode())
  assert.equal((await chain.getTx(blocks[2].txs[0].id))?.idString, blocks[2].txs[0].idString)
  const coins = await chain.getCoins([`${blocks[0].txs[0].idString}:0`, `${blocks[0].txs[0].idString}:1`])
  assert.equal(coins.size, 1)
  const coin = coins.get(`${blocks[0].txs[0].idString}:0`)
  assert.deepEqual(coin && { ...coin, address: new Uint8Array(coin.address) }, { amount: 50n * COIN, address: key.addressHash, height: 1, coinbase: true })

  assert.deepEqual(await chain.processBlock(blocks[3]), { status: 'known' })
  assert.equal(tips.length, 5, 'a known block moves nothing')
  assert.equal((await chain.verifyChain()).ok, true)
})

test('a spend moves its fee into the next coinbase and keeps the total', async t => {
  const { chain, ws } = await openChain(t)
  const key = newKey()
  const blocks = await mineBlocks(chain, ws.clock, regtest.coinbaseMaturity + 1, key.addressHash)
  const payee = newKey()
  const tx = spendTx(chain, [outputOf(blocks[0].txs[0])], key, {
    outputs: [{ amount: 20n * COIN, address: payee.addressHash }, { amount: 30n * COIN - 5_000n, address: key.addressHash }]
  })
  await chain.acceptTx(tx)
  const [block] = await mineBlocks(chain, ws.clock, 1, key.addressHash)
  assert.deepEqual(block.txs.map(x => x.idString), [block.txs[0].idString, tx.idString])
  assert.equal(block.txs[0].data.outputs[0].amount, subsidyAt(regtest, block.height) + 5_000n)
  const blocksMined = BigInt(regtest.coinbaseMaturity + 2)
  // genesis + coinbases, the spent coin replaced by two outputs
  assert.deepEqual(chain.utxoSummary(), {
    height: Number(blocksMined),
    tip: block.idString,
    txouts: Number(blocksMined) + 1 - 1 + 2,
    total: (blocksMined + 1n) * 50n * COIN
  })
  assert.equal(chain.mempool.size, 0)
  assert.equal((await chain.getCoins([`${blocks[0].txs[0].idString}:0`])).size, 0)
  assert.equal((await chain.getCoins([`${tx.idString}:0`])).get(`${tx.idString}:0`)?.amount, 20n * COIN)
  assert.equal((await chain.verifyChain()).ok, true)
})

test('locator: ten recent ids, then doubling steps, then genesis; peers sync from it', async t => {
  const { chain, ws } = await openChain(t)
  const key = newKey()
  const blocks = await mineBlocks(chain, ws.clock, 30, key.addressHash)
  const idAt = (h: number): string => h === 0 ? genesis.idString : blocks[h - 1].idString

  const expectedHeights = [30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 19, 15, 7, 0]
  assert.deepEqual(chain.locator(), expectedHeights.map(idAt))

  // A peer that has our first 12 blocks: it sends its own locator, we answer with what follows.
  const peerLocator = [12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 1, 0].map(idAt)
  assert.deepEqual(idsAfterLocator(chain, peerLocator, 500).map(c => c.toString()), blocks.slice(12).map(b => b.idString))
  assert.deepEqual(idsAfterLocator(chain, peerLocator, 5).map(c => c.toString()), blocks.slice(12, 17).map(b => b.idString))
  const headers = await headersAfterLocator(chain, peerLocator, 3)
  assert.deepEqual(headers, blocks.slice(12, 15).map(b => b.header.bytes))

  // Unknown ids are skipped; with nothing known the answer starts after genesis.
  const stranger = new BranchBuilder(regtest, { id: blocks[29].txs[0].id, height: 5, time: ws.clock.now }, [ws.clock.now]).next()
  assert.deepEqual(idsAfterLocator(chain, [stranger.idString, idAt(20)], 2).map(c => c.toString()), [idAt(21), idAt(22)])
  assert.deepEqual(idsAfterLocator(chain, [], 2).map(c => c.toString()), [idAt(1), idAt(2)])
  // A peer already at our tip gets nothing.
  assert.deepEqual(idsAfterLocator(chain, chain.locator(), 10), [])
})

test('a locator entry on one of our side branches is skipped for the next best-chain one', async t => {
  const { chain, ws } = await openChain(t)
  const key = newKey()
  const blocks = await mineBlocks(chain, ws.clock, 6, key.addressHash)
  const side = BranchBuilder.on(chain, chain.getEntryAt(3) as BlockEntry).next()
  assert.deepEqual(await chain.processBlock(side), { status: 'side' })
  assert.equal(chain.isOnBestChain(side.idString), false)
  assert.deepEqual(idsAfterLocator(chain, [side.idString, blocks[2].idString, genesis.idString], 10).map(c => c.toString()),
    blocks.slice(3).map(b => b.idString))
})

test('median time past and decoding blocks with the mempool\'s transactions', async t => {
  const { chain, ws } = await openChain(t)
  const key = newKey()
  const blocks = await mineBlocks(chain, ws.clock, 12, key.addressHash)
  const times = [genesis, ...blocks].slice(-regtest.medianTimeSpan).map(b => b.header.data.time).sort((a, b) => a - b)
  assert.equal(chain.medianTimePast(), times[5])

  const tx = spendTx(chain, [outputOf(blocks[0].txs[0])], key)
  await chain.acceptTx(tx)
  const wire = (await mineOn(chain, key.addressHash)).encode()
  const decoded = chain.decodeBlock(wire)
  // The very object the mempool verified (its own copy of the offered one): its sighash and signature check carry over.
  const pooled = chain.mempool.get(tx.idString)?.tx
  assert.equal(decoded.txs[1], pooled)
  // Found by its bytes alone: a copy matches; the same fingerprint with one byte changed does not.
  assert.equal(chain.mempool.findByBytes(Uint8Array.from(tx.bytes)), pooled)
  const altered = Uint8Array.from(tx.bytes)
  altered[altered.length - 1] ^= 1
  assert.equal(chain.mempool.findByBytes(altered), undefined)
  assert.deepEqual(await chain.processBlock(decoded), { status: 'connected' })
  assert.equal(chain.mempool.findByBytes(tx.bytes), undefined, 'a mined transaction leaves the index')
})

test('a stopped chain refuses blocks and transactions with NOT_RUNNING, and its database keeps its last state', async t => {
  const { chain, ws } = await openChain(t)
  const key = newKey()
  const blocks = await mineBlocks(chain, ws.clock, regtest.coinbaseMaturity + 1, key.addressHash)
  const tx = spendTx(chain, [outputOf(blocks[0].txs[0])], key)
  const next = await mineOn(chain, key.addressHash)
  await chain.stop()
  await assert.rejects(chain.processBlock(next), (err: Error) => err instanceof ChainError && err.code === 'NOT_RUNNING')
  await assert.rejects(chain.acceptTx(tx), (err: Error) => err instanceof ChainError && err.code === 'NOT_RUNNING')
  assert.equal(chain.verifier.running, 0, 'nothing started a worker after stop')
  const reopened = await ws.open()
  assert.equal(reopened.height, blocks.length)
  assert.equal(reopened.tip.idString, blocks.at(-1)?.idString)
  assert.equal((await reopened.verifyChain()).ok, true)
})
