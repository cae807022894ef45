/**
 * The UTXO set in memory in front of LevelDB: blocks connect against memory,
 * changes reach the disk in flushes, and a process that dies between two
 * flushes restarts from the last one and connects its stored blocks again.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { StateWrite } from '../src/chain/store.ts'
import { chainWorkspace, mineBlocks, mineOn, newKey, outputOf, spendTx, watchWrites } from './helpers/chain-harness.ts'

test('blocks connect in memory; a flush writes their coins, and a coin created and spent in between never reaches the disk', async t => {
  const ws = await chainWorkspace(t)
  const writes: StateWrite[] = []
  let watching = false
  const chain = await ws.open({ store: watchWrites(write => { if (watching) writes.push(write) }) })
  const key = newKey()
  const blocks = await mineBlocks(chain, ws.clock, chain.params.coinbaseMaturity + 1, key.addressHash)
  const coinbase = `${blocks[0].txs[0].idString}:0`
  assert.deepEqual(await chain.store.getCoins([coinbase]), [undefined], 'not on disk before a flush')
  assert.equal((await chain.getCoins([coinbase])).size, 1, 'but in the chain\'s set')

  // Created in one block, spent in the next, both before the flush.
  const first = spendTx(chain, [outputOf(blocks[0].txs[0])], key)
  await chain.acceptTx(first)
  await mineBlocks(chain, ws.clock, 1, key.addressHash)
  const second = spendTx(chain, [outputOf(first)], key)
  await chain.acceptTx(second)
  await mineBlocks(chain, ws.clock, 1, key.addressHash)

  watching = true
  await chain.flush()
  assert.equal(writes.length, 1, 'one batch for every block since the last flush')
  const [w] = writes
  const shortLived = `${first.idString}:0`
  assert.ok(!w.put.some(([k]) => k === shortLived) && !w.del.includes(shortLived), 'the short-lived coin is neither written nor deleted')
  assert.ok(w.put.some(([k]) => k === `${second.idString}:0`))
  assert.deepEqual(w.tipDigest, chain.tip.id.multihash.digest)
  assert.deepEqual(await chain.store.getCoins([coinbase]), [undefined], 'the spent coinbase is gone from disk')
  const check = await chain.verifyChain()
  assert.equal(check.ok, true, check.mismatches.join('\n'))
  await chain.flush()
  assert.equal(writes.length, 1, 'nothing to write twice')
})

test('a chain that dies before flushing restarts from its last flush and connects its stored blocks again', async t => {
  const ws = await chainWorkspace(t)
  const chain = await ws.open()
  const key = newKey()
  await mineBlocks(chain, ws.clock, 3, key.addressHash)
  await chain.flush()
  const flushed = chain.utxoSummary()
  await mineBlocks(chain, ws.clock, 4, key.addressHash)
  const summary = chain.utxoSummary()
  // A crash: the database closes with the last four blocks stored but their coins only in memory.
  await chain.verifier.stop()
  await chain.store.close()

  const connected: number[] = []
  const again = await ws.open({ beforeStart: c => c.on('block:connected', (_b, entry) => connected.push(entry.height)) })
  assert.deepEqual(connected, [4, 5, 6, 7], 'the blocks after the flushed tip connect again')
  assert.notDeepEqual(flushed, summary)
  assert.deepEqual(again.utxoSummary(), summary)
  const check = await again.verifyChain()
  assert.equal(check.ok, true, check.mismatches.join('\n'))
})

test('a cache smaller than the set forgets clean coins and reads them again from disk', async t => {
  const ws = await chainWorkspace(t)
  const chain = await ws.open({ coinsCache: { maxEntries: 5, maxDirty: 8 } })
  const key = newKey()
  const blocks = await mineBlocks(chain, ws.clock, 20, key.addressHash)
  const keys = blocks.map(b => `${b.txs[0].idString}:0`)
  for (let round = 0; round < 2; round++) {
    const coins = await chain.getCoins(keys)
    assert.equal(coins.size, 20)
    assert.ok(keys.every((k, i) => coins.get(k)?.height === i + 1))
  }
  const spend = spendTx(chain, [outputOf(blocks[0].txs[0])], key)
  await chain.acceptTx(spend)
  await mineBlocks(chain, ws.clock, 1, key.addressHash)
  assert.equal((await chain.getCoins([keys[0]])).size, 0)
  const check = await chain.verifyChain()
  assert.equal(check.ok, true, check.mismatches.join('\n'))
})

test('a cached coin does not keep the bytes of the block it came in alive', async t => {
  const ws = await chainWorkspace(t)
  const chain = await ws.open()
  const key = newKey()
  ws.clock.now += chain.params.targetBlockTime
  // As from a peer: decoded from one message, every output's address a view of it.
  const wire = (await mineOn(chain, key.addressHash)).encode()
  const block = chain.decodeBlock(wire)
  assert.equal(block.txs[0].data.outputs[0].address.buffer.byteLength, wire.buffer.byteLength)
  assert.equal((await chain.processBlock(block)).status, 'connected')
  const coinKey = `${block.txs[0].idString}:0`
  const coin = (await chain.getCoins([coinKey])).get(coinKey)
  assert.deepEqual(coin?.address, key.addressHash)
  assert.ok((coin?.address.buffer.byteLength ?? Infinity) < wire.length, 'the address is held in a buffer of its own')
})
