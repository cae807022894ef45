import assert from 'node:assert/strict'
import { test } from 'node:test'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeMempoolFile, encodeMempoolFile, MEMPOOL_FILE, MempoolFile, saveDelayMs } from '../src/chain/mempool-file.ts'
import type { MempoolEntry } from '../src/chain/types.ts'
import { encodeCbor } from '../src/core/cbor.ts'
import { sha256 } from '../src/core/hash.ts'
import { genesisBlock, getNetwork } from '../src/core/params.ts'
import { createLogger } from '../src/log.ts'
import { mineBlockOn, mineBlocks, openChain, outputOf, spendTx, testChain } from './helpers/chain-harness.ts'
import { newKey, regtest, rpc, startNode, tempDatadir, waitFor } from './helpers/node-harness.ts'
import { spendCoinbase } from './helpers/spend.ts'

test('the mempool survives a restart with its arrival times; a transaction made invalid meanwhile is dropped, and its child with it', async t => {
  const datadir = await tempDatadir(t)
  const key = newKey()
  let node = await startNode(t, { datadir })
  await rpc(node, 'generate', [regtest.coinbaseMaturity + 3, key.address])
  const kept = await spendCoinbase(node.chain, 1, key, key.addressHash)
  const keptChild = spendTx(node.chain, [outputOf(kept)], key)
  const doomed = await spendCoinbase(node.chain, 2, key, key.addressHash)
  const doomedChild = spendTx(node.chain, [outputOf(doomed)], key)
  for (const tx of [kept, doomed, keptChild, doomedChild]) await node.chain.acceptTx(tx)
  const times = new Map([kept, keptChild].map(tx => [tx.idString, node.mempool.get(tx.idString)?.time]))
  await node.stop()

  // While the node is down a block confirms another spend of the doomed transaction's coin.
  const chain = testChain({ params: regtest, dbPath: join(datadir, 'chain'), verifierThreads: 1 })
  await chain.start()
  const conflict = await spendCoinbase(chain, 2, key, newKey().addressHash, 20_000n)
  assert.equal((await chain.processBlock(mineBlockOn(chain, chain.tip, { txs: [conflict] }))).status, 'connected')
  await chain.stop()

  // A clock 1,000 s on: arrival times that survive are not the restart's.
  node = await startNode(t, { datadir, clockOffset: 1_000 })
  await waitFor(async () => (await rpc(node, 'getmempoolinfo')).loaded, 'the saved mempool to load')
  assert.deepEqual(new Set(await rpc(node, 'getrawmempool')), new Set([kept.idString, keptChild.idString]))
  for (const [id, time] of times) assert.equal(node.mempool.get(id)?.time, time, 'arrival time kept')
})

test('the mempool file is the DAG-CBOR @ipld/dag-cbor writes, byte for byte, at every size of its heads', async () => {
  const genesis = genesisBlock(regtest).id.bytes
  const sizes = [0, 1, 23, 24, 255, 256, 65_535, 65_536, 70_000]
  const times = [0, 23, 24, 255, 256, 65_536, 1_800_000_000, 2 ** 32, 2 ** 40]
  const pool = sizes.map((size, n) => ({ time: times[n], tx: { bytes: new Uint8Array(size).fill(n) } }) as unknown as MempoolEntry)
  // 10,000 entries: the encoding yields to the event loop between them.
  for (const entries of [[], pool, Array.from({ length: 10_000 }, (_, n) => pool[n % pool.length])]) {
    const file = await encodeMempoolFile(genesis, entries)
    const body = encodeCbor({ version: 1, genesis, txs: entries.map(e => [e.time, e.tx.bytes]) })
    assert.deepEqual(Buffer.from(file.subarray(0, body.length)), Buffer.from(body))
    assert.deepEqual(Buffer.from(file.subarray(body.length)), Buffer.from(sha256(body)))
    assert.deepEqual(decodeMempoolFile(genesis, file).map(s => s.time), entries.map(e => e.time))
  }
})

test('a damaged or foreign mempool file is set aside with a warning and the node starts with an empty mempool; savemempool writes one that loads', async t => {
  const datadir = await tempDatadir(t)
  const path = join(datadir, MEMPOOL_FILE)
  const genesis = genesisBlock(regtest).id.bytes
  const good = await encodeMempoolFile(genesis, [])
  const flipped = good.slice()
  flipped[3] ^= 1
  const damaged: Array<[string, Uint8Array]> = [
    ['garbage', new TextEncoder().encode('not a mempool file')],
    ['a flipped byte', flipped],
    ['another network', await encodeMempoolFile(genesisBlock(getNetwork('lan')).id.bytes, [])]
  ]
  for (const [what, bytes] of damaged) {
    assert.throws(() => decodeMempoolFile(genesis, bytes), Error, what)
    await writeFile(path, bytes)
    const node = await startNode(t, { datadir })
    await waitFor(async () => (await rpc(node, 'getmempoolinfo')).loaded, `the node to be done with a file of ${what}`)
    assert.equal(node.mempool.size, 0)
    await node.stop()
    const names = await readdir(datadir)
    assert.ok(names.some(n => n.startsWith(`${MEMPOOL_FILE}.damaged-`)), `a file of ${what} is set aside`)
    assert.deepEqual(await readFile(path), Buffer.from(good), 'the stop wrote a good one')
  }

  const key = newKey()
  const node = await startNode(t, { datadir })
  await rpc(node, 'generate', [regtest.coinbaseMaturity + 1, key.address])
  const tx = await spendCoinbase(node.chain, 1, key, key.addressHash)
  await node.chain.acceptTx(tx)
  assert.deepEqual(await rpc(node, 'savemempool'), { txs: 1, bytes: (await readFile(path)).length })
  assert.deepEqual(decodeMempoolFile(genesis, await readFile(path)).map(s => Buffer.from(s.bytes).toString('hex')), [Buffer.from(tx.bytes).toString('hex')])
})

test('the mempool is written a second after it changed, changes meanwhile with it, and not again until it changes', async t => {
  const { chain, ws } = await openChain(t)
  const key = newKey()
  await mineBlocks(chain, ws.clock, regtest.coinbaseMaturity + 2, key.addressHash)
  const path = join(ws.dir, MEMPOOL_FILE)
  const file = new MempoolFile({ chain, mempool: chain.mempool, logger: createLogger('mempool') }, { path })
  const saves: Array<Promise<unknown>> = []
  const save = file.save.bind(file)
  file.save = async () => {
    const saving = save()
    saves.push(saving)
    return await saving
  }
  await file.start()
  file.afterStart()
  ws.stopAfter(file)
  await waitFor(() => file.loaded, 'the (absent) file to load')
  t.mock.timers.enable({ apis: ['setTimeout'] })
  t.mock.timers.tick(10 * 60_000)
  assert.equal(saves.length, 0, 'nothing changed: nothing written')
  const first = await spendCoinbase(chain, 1, key, key.addressHash)
  const second = await spendCoinbase(chain, 2, key, key.addressHash)
  await chain.acceptTx(first)
  t.mock.timers.tick(500)
  await chain.acceptTx(second)
  t.mock.timers.tick(499)
  assert.equal(saves.length, 0, 'not before a second')
  t.mock.timers.tick(1)
  assert.equal(saves.length, 1, 'both changes in one write')
  await saves[0]
  const saved = decodeMempoolFile(genesisBlock(regtest).id.bytes, await readFile(path))
  assert.deepEqual(saved.map(s => s.time), [first, second].map(tx => chain.mempool.get(tx.idString)?.time))
  t.mock.timers.tick(10 * 60_000)
  assert.equal(saves.length, 1, 'unchanged since: not written again')
})

test('a large mempool file is written less often: at most 200 kB/s on average, and at least every 5 minutes', () => {
  assert.equal(saveDelayMs(0), 1_000)
  assert.equal(saveDelayMs(150_000), 1_000)
  assert.equal(saveDelayMs(2_000_000), 10_000)
  assert.equal(saveDelayMs(64_000_000), 5 * 60_000)
  assert.equal(saveDelayMs(64_000_000, 60_000), 60_000)
})

test('what the next write takes is known before it is made (room a halt for want of space keeps for it)', async t => {
  const { chain, ws } = await openChain(t)
  const key = newKey()
  const blocks = await mineBlocks(chain, ws.clock, regtest.coinbaseMaturity + 1, key.addressHash)
  const file = new MempoolFile({ chain, mempool: chain.mempool, logger: createLogger('mempool') }, { path: join(ws.dir, MEMPOOL_FILE) })
  await file.start()
  file.afterStart()
  ws.stopAfter(file)
  await waitFor(() => file.loaded, 'the (absent) file to load')
  const coin = outputOf(blocks[0].txs[0])
  await chain.acceptTx(spendTx(chain, [coin], key, { outputs: Array.from({ length: 50 }, () => ({ amount: 1_000_000n, address: newKey().addressHash })) }))
  const expected = file.nextWriteBytes
  const { bytes } = await file.save()
  assert.ok(bytes <= expected, `${bytes} bytes written, ${expected} expected at most`)
})
