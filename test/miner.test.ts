import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encodeHeaderData, NONCE_BYTES } from '../src/core/block.ts'
import { bitsToTarget, targetToBits } from '../src/core/pow.ts'
import { headerTemplate } from '../src/miner/header-template.ts'
import { Miner } from '../src/miner/miner.ts'
import { MinerError, NonceSearcher } from '../src/miner/nonce-search.ts'
import { createLogger, setLogLevel } from '../src/log.ts'
import { waitFor } from '../src/util/wait-for.ts'
import { newKey, openChain, regtest } from './helpers/chain-harness.ts'

setLogLevel('silent')

test('the nonce sits at a fixed offset: patching it in place equals encoding the header with it', async t => {
  const { chain } = await openChain(t)
  const data = (await chain.templates.newTemplate(newKey().addressHash)).header
  const { bytes, offset } = headerTemplate(data)
  const nonce = Uint8Array.from([9, 8, 7, 6, 5, 4, 3, 2])
  const patched = bytes.slice()
  patched.set(nonce, offset)
  assert.deepEqual(patched, encodeHeaderData({ ...data, nonce }))
  assert.equal(offset + NONCE_BYTES <= bytes.length, true)
})

test('the worker finds a nonce meeting the target; abort ends an impossible search at once', async t => {
  const { chain } = await openChain(t)
  const searcher = new NonceSearcher({ threads: 2 })
  await searcher.warmUp()
  t.after(async () => { await searcher.stop() })
  // About 2^12 attempts expected.
  const bits = targetToBits(1n << 244n)
  const data = { ...(await chain.templates.newTemplate(newKey().addressHash)).header, bits }
  const header = await searcher.search(data)
  assert.ok(header !== null)
  assert.ok(header.powHash <= bitsToTarget(bits))

  const impossible = searcher.search({ ...data, bits: 0x03000001 })
  setImmediate(() => { searcher.abort() })
  assert.equal(await impossible, null)
})

test('the miner mines blocks on the tip, one after another', async t => {
  const { chain, ws } = await openChain(t)
  ws.clock.now = Math.floor(Date.now() / 1000)
  const miner = new Miner({ chain, templates: chain.templates, logger: createLogger('miner') })
  t.after(async () => { await miner.stop() })
  const blocks = await miner.mineBlocks(3, newKey().addressHash)
  assert.deepEqual(blocks.map(b => b.height), [1, 2, 3])
  assert.equal(chain.tip.idString, blocks[2].idString)
  miner.startMining(newKey().addressHash)
  await waitFor(() => chain.height >= 10, 'continuous mining to reach height 10', 10_000, 10)
  miner.stopMining()
})

test('a new tip aborts the running search and a new one starts on a fresh template', async t => {
  // A target no search meets in the test's time: only the tip event can end it.
  const hard = { ...regtest, powLimitBits: targetToBits(1n << 200n) }
  const { chain } = await openChain(t, { params: hard })
  const miner = new Miner({ chain, templates: chain.templates, logger: createLogger('miner') }, { retemplateMs: 600_000 })
  t.after(async () => { await miner.stop() })
  const searches: number[] = []
  const search = miner.searcher.search.bind(miner.searcher)
  miner.searcher.search = async data => {
    searches.push(Date.now())
    return await search(data)
  }
  miner.startMining(newKey().addressHash)
  await waitFor(() => searches.length >= 1, 'the first search', 10_000, 5)
  const tipAt = Date.now()
  chain.emit('tip', { tip: chain.tip, previous: chain.tip, connected: [], disconnected: [], returned: [] })
  await waitFor(() => searches.length >= 2, 'a second search after the tip event', 10_000, 5)
  t.diagnostic(`search restarted ${searches[1] - tipAt} ms after the tip event`)
  miner.stopMining()
})

test('continuous mining ends when its chain stops, instead of mining on blocks no one takes', async t => {
  const { chain, ws } = await openChain(t)
  ws.clock.now = Math.floor(Date.now() / 1000)
  const miner = new Miner({ chain, templates: chain.templates, logger: createLogger('miner') })
  t.after(async () => { await miner.stop() })
  miner.startMining(newKey().addressHash)
  await waitFor(() => chain.height >= 2, 'two mined blocks', 10_000, 10)
  await chain.stop()
  await waitFor(() => !miner.mining, 'the miner to stop mining on a stopped chain', 10_000, 10)
})

test('stopping the miner during generate fails the generate and leaves no worker running', async t => {
  const { chain, ws } = await openChain(t)
  ws.clock.now = Math.floor(Date.now() / 1000)
  const miner = new Miner({ chain, templates: chain.templates, logger: createLogger('miner') })
  const generate = miner.mineBlocks(10_000, newKey().addressHash)
  generate.catch(() => {})
  await waitFor(() => chain.height >= 2, 'two generated blocks', 10_000, 10)
  await miner.stop()
  await assert.rejects(generate, (err: unknown) => err instanceof MinerError && err.code === 'STOPPED')
  assert.equal(miner.searcher.running, 0)
})
