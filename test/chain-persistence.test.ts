import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { Level } from 'level'
import type { TestChain } from './helpers/chain-harness.ts'
import { markerPath } from '../src/chain/db-marker.ts'
import { blockstoreKey, encodeIndexValue, indexKey, indexRecordOf, StoreError } from '../src/chain/records.ts'
import type { BlockEntry } from '../src/chain/types.ts'
import type { Block } from '../src/core/block.ts'
import { BlockError } from '../src/core/errors.ts'
import type { KeyPair } from '../src/core/keys.ts'
import { genesisBlock, getNetwork, subsidyAt } from '../src/core/params.ts'
import { coinsOf } from '../src/core/rules.ts'
import { BranchBuilder, chainWorkspace, mineBlocks, newKey, outputOf, regtest, spendTx, watchedStore, watchWrites, type ChainWorkspace, type OpenOptions } from './helpers/chain-harness.ts'

// The Node running this test (the bundled Node 24), never another checkout's.
const NODE = process.execPath

async function directSummary (ws: ChainWorkspace, name: string, blocks: Block[]): Promise<ReturnType<TestChain['utxoSummary']>> {
  const direct = await ws.open({ name })
  for (const block of blocks) assert.equal((await direct.processBlock(block)).status, 'connected')
  const summary = direct.utxoSummary()
  await direct.stop()
  return summary
}

async function assertConsistent (chain: TestChain): Promise<void> {
  const check = await chain.verifyChain()
  assert.equal(check.ok, true, check.mismatches.join('\n'))
  assert.equal(check.height, chain.height)
  assert.equal(check.txouts, chain.utxoSummary().txouts)
  assert.equal(check.total, chain.utxoSummary().total)
}

test('a restart resumes tip and UTXO statistics from the stored index, replaying nothing', async t => {
  const ws = await chainWorkspace(t)
  const chain = await ws.open()
  const key = newKey()
  const blocks = await mineBlocks(chain, ws.clock, 14, key.addressHash)
  await chain.acceptTx(spendTx(chain, [outputOf(blocks[0].txs[0])], key, { outputs: [{ amount: 20n * 10n ** 8n, address: newKey().addressHash }, { amount: 29n * 10n ** 8n, address: key.addressHash }] }))
  blocks.push(...await mineBlocks(chain, ws.clock, 1, key.addressHash))
  await chain.processBlock(BranchBuilder.on(chain, chain.getEntryAt(13) as BlockEntry).next())
  const summary = chain.utxoSummary()
  const locator = chain.locator()
  await chain.stop()

  let blockReads = 0
  let events = 0
  const again = await ws.open({
    store: watchedStore({ getBlock: () => { blockReads++ } }),
    beforeStart: c => {
      c.on('block:connected', () => { events++ })
      c.on('tip', () => { events++ })
    }
  })
  assert.equal(blockReads, 6, 'start reads only the 6 blocks it checks')
  assert.equal(events, 0)
  assert.deepEqual(again.utxoSummary(), summary)
  assert.deepEqual(again.locator(), locator)
  assert.equal(again.tip.chainwork, (again.getEntryAt(0) as BlockEntry).chainwork * 16n)
  for (const b of blocks) assert.equal(again.isOnBestChain(b.idString), true)
  assert.equal(again.getEntryAt(14)?.idString, blocks[13].idString)
  assert.deepEqual(await again.processBlock(blocks[3]), { status: 'known' })
  await assertConsistent(again)
  await mineBlocks(again, ws.clock, 1, key.addressHash)
  assert.equal(again.height, 16)
})

test('a datadir of another network is refused with WRONG_NETWORK and left closed', async t => {
  const ws = await chainWorkspace(t)
  const lan = await ws.open({ params: getNetwork('lan') })
  await lan.stop()
  await assert.rejects(ws.open(), (err: unknown) => {
    assert.ok(err instanceof StoreError, `a StoreError, got ${String(err)}`)
    assert.equal(err.code, 'WRONG_NETWORK')
    return true
  })
  // The database lock was released: its own network opens it again.
  const reopened = await ws.open({ params: getNetwork('lan') })
  assert.equal(reopened.height, 0)
})

test('a datadir of coints 0.1\'s lan (the same name, an older genesis) is refused with a message that says so', async t => {
  const ws = await chainWorkspace(t)
  const lan = await ws.open({ params: getNetwork('lan') })
  await lan.stop()
  // The marker the old lan's node wrote: another genesis under the same name.
  const old = 'bafyreigdmqpykrgxyaxtlafqpqhzrb7qy2rh75nldvfd4tucqmqqme5yje'
  await writeFile(markerPath(ws.dbPath()), JSON.stringify({ network: 'lan', genesis: old }))
  await assert.rejects(ws.open({ params: getNetwork('lan') }), (err: unknown) => {
    assert.ok(err instanceof StoreError && err.code === 'WRONG_NETWORK', String(err))
    assert.match(err.message, new RegExp(`holds an older lan chain \\(genesis ${old}, coints 0\\.1's\\); this lan has genesis ${genesisBlock(getNetwork('lan')).idString}: move it away or give another --datadir`))
    return true
  })
})

/** Starts a chain on `dbPath` in a child process: a start that fails must leave nothing keeping the process alive. */
async function startInChild (t: TestContext, dir: string, dbPath: string): Promise<{ code: number | null, signal: string | null, out: string }> {
  const script = `
    import { buildChain } from ${JSON.stringify(new URL('../src/node/build-chain.ts', import.meta.url).href)}
    import { getNetwork } from ${JSON.stringify(new URL('../src/core/params.ts', import.meta.url).href)}
    const { chain } = buildChain({ params: getNetwork('regtest'), dbPath: ${JSON.stringify(dbPath)}, verifierThreads: 2 })
    try { await chain.start() } catch (err) { console.log(err.code) }`
  // A file, not --eval: worker threads refuse the --input-type flag they would inherit.
  const file = join(dir, 'start-chain.mjs')
  await writeFile(file, script)
  const child = spawn(NODE, [file], { stdio: ['ignore', 'pipe', 'inherit'] })
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  t.after(() => { clearTimeout(timer); child.kill('SIGKILL') })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  const [code, signal] = await once(child, 'exit') as [number | null, string | null]
  return { code, signal, out: out.trim() }
}

test('a refused start leaves nothing running: the process exits by itself', async t => {
  const ws = await chainWorkspace(t)
  const lan = await ws.open({ params: getNetwork('lan') })
  await lan.stop()
  assert.deepEqual(await startInChild(t, ws.dir, ws.dbPath()), { code: 0, signal: null, out: 'WRONG_NETWORK' })
})

interface Forked { ws: ChainWorkspace, chain: TestChain, key: KeyPair, main: Block[], branch: Block[] }

/** main: 5 blocks, written to disk; branch: 5 blocks on main[1] (heights 3..7), built but not processed. */
async function forked (t: Parameters<typeof chainWorkspace>[0], bad?: number, opts: OpenOptions = {}): Promise<Forked> {
  const ws = await chainWorkspace(t)
  const chain = await ws.open(opts)
  const key = newKey()
  const main = await mineBlocks(chain, ws.clock, 5, key.addressHash)
  await chain.flush()
  const builder = BranchBuilder.on(chain, chain.getEntryAt(2) as BlockEntry)
  const branch = [3, 4, 5, 6, 7].map(h => builder.next(h === bad ? { coinbaseOutputs: [{ amount: subsidyAt(regtest, h) + 1n, address: key.addressHash }] } : {}))
  return { ws, chain, key, main, branch }
}

test('blocks of a heavier branch stored but never connected (a crash before the switch) are connected on start', async t => {
  const { ws, chain, main, branch } = await forked(t)
  for (const b of branch) await chain.store.putBlock(b, indexRecordOf(b))
  await chain.stop()

  const tips: number[] = []
  const again = await ws.open({ beforeStart: c => c.on('tip', change => tips.push(change.disconnected.length)) })
  assert.equal(again.height, 7)
  assert.equal(again.tip.idString, branch[4].idString)
  assert.deepEqual(tips, [3])
  assert.equal(again.isOnBestChain(main[4].idString), false)
  assert.deepEqual(again.utxoSummary(), await directSummary(ws, 'direct', [...main.slice(0, 2), ...branch]))
  await assertConsistent(again)
})

test('a stored heavier branch with an invalid block is rejected on start and stays rejected', async t => {
  const { ws, chain, main, branch } = await forked(t, 5)
  const summary = chain.utxoSummary()
  for (const b of branch) await chain.store.putBlock(b, indexRecordOf(b))
  await chain.stop()

  const again = await ws.open()
  assert.equal(again.tip.idString, main[4].idString)
  assert.deepEqual(again.utxoSummary(), summary)
  await assertConsistent(again)
  assert.equal(again.getEntry(branch[1].idString)?.height, 4, 'the valid part stays')
  await again.stop()

  const third = await ws.open()
  assert.equal(third.tip.idString, main[4].idString)
  for (const b of branch.slice(2)) {
    await assert.rejects(third.processBlock(b), (err: unknown) => err instanceof BlockError && err.code === 'KNOWN_INVALID')
  }
})

// A write that fails mid-way through a reorganisation leaves the store as a kill at that point would.
for (const failAt of [1, 2, 3, 4, 6]) {
  test(`a reorganisation interrupted after ${failAt - 1} tip writes resumes to the heaviest branch on start`, async t => {
    // Every tip move written at once, as the crash this simulates needs.
    let writes = 0
    let armed = false
    const crashAt = watchWrites(() => { if (armed && ++writes === failAt) throw new Error('simulated crash') })
    const { ws, chain, main, branch } = await forked(t, undefined, { coinsCache: { maxDirty: 0 }, store: crashAt })
    for (const b of branch.slice(0, 3)) assert.equal((await chain.processBlock(b)).status, 'side')
    armed = true
    // branch[3] (height 6) outweighs main: 3 disconnects, then 4 connects.
    await assert.rejects(chain.processBlock(branch[3]), /simulated crash/)
    await chain.stop()

    const again = await ws.open()
    assert.equal(again.tip.idString, branch[3].idString)
    assert.deepEqual(again.utxoSummary(), await directSummary(ws, 'direct', [...main.slice(0, 2), ...branch.slice(0, 4)]))
    await assertConsistent(again)
    assert.deepEqual(await again.processBlock(branch[4]), { status: 'connected' })
  })
}

test('verifyChain reports a damaged UTXO set', async t => {
  const ws = await chainWorkspace(t)
  const chain = await ws.open()
  const key = newKey()
  const blocks = await mineBlocks(chain, ws.clock, 3, key.addressHash)
  await chain.flush()
  const utxo = chain.store.db.sublevel<string, Uint8Array>('u', { keyEncoding: 'utf8', valueEncoding: 'view' })
  const lost = `${blocks[0].txs[0].idString}:0`
  const value = await utxo.get(lost)
  assert.ok(value !== undefined)
  await utxo.del(lost)
  await utxo.put(`${blocks[1].txs[0].idString}:7`, value)
  const check = await chain.verifyChain()
  assert.equal(check.ok, false)
  assert.ok(check.mismatches.includes(`${lost} is missing from the stored set`))
  assert.ok(check.mismatches.includes(`${blocks[1].txs[0].idString}:7 is stored but not in the recomputed set`))
})

test('a stored best chain that does not connect is refused by the start check, and verifyChain reports it below the blocks checked', async t => {
  const { ws, chain, main, key } = await forked(t)
  // Damage: the tip moved onto stored blocks that never passed validation (height 6 pays too much), with their coins and undo data.
  const builder = BranchBuilder.on(chain, chain.tip)
  const bad = builder.next({ coinbaseOutputs: [{ amount: 51n * 10n ** 8n, address: key.addressHash }] })
  const above = builder.next()
  for (const b of [bad, above]) await chain.store.putBlock(b, indexRecordOf(b))
  const stats = chain.utxoSummary()
  await chain.store.writeState({
    put: [...coinsOf(bad.txs[0], 6), ...coinsOf(above.txs[0], 7)],
    del: [],
    undo: [{ digest: bad.id.multihash.digest, spent: [] }, { digest: above.id.multihash.digest, spent: [] }],
    tipDigest: above.id.multihash.digest,
    stats: { txouts: stats.txouts + 2, total: stats.total + 51n * 10n ** 8n + subsidyAt(regtest, 7) }
  })
  await chain.stop()
  await assert.rejects(ws.open(), (err: unknown) => err instanceof StoreError && err.code === 'CORRUPT_UNDO' && /block 6 .*BAD_COINBASE_VALUE/.test(err.message))
  const again = await ws.open({ checkBlocks: 1 })
  assert.equal(again.tip.idString, above.idString)
  assert.equal(again.getEntryAt(5)?.idString, main[4].idString)
  const check = await again.verifyChain()
  assert.equal(check.ok, false)
  assert.match(check.mismatches[0], /height 6 does not connect: BAD_COINBASE_VALUE/)
})

test('a start that fails while resuming a reorganisation closes everything', async t => {
  const { ws, chain, branch } = await forked(t)
  // Damage: the tip moved onto a block whose undo data was never written; resuming must disconnect it.
  await chain.store.putBlock(branch[0], indexRecordOf(branch[0]))
  await chain.store.putMeta('tip', branch[0].id.multihash.digest)
  await chain.stop()
  await assert.rejects(ws.open(), (err: unknown) => err instanceof StoreError && err.code === 'CORRUPT_UNDO')
  assert.deepEqual(await startInChild(t, ws.dir, ws.dbPath()), { code: 0, signal: null, out: 'CORRUPT_UNDO' })
})

test('a datadir in use by another chain is refused with DB_OPEN_FAILED', async t => {
  const ws = await chainWorkspace(t)
  await ws.open()
  // Found before its files are checked: a running node's files are no damage.
  await assert.rejects(ws.open(), (err: unknown) => err instanceof StoreError && err.code === 'DB_OPEN_FAILED' && err.message.includes(`in use by process ${process.pid}`))
})

test('a stored block whose bytes were damaged reads as CORRUPT_BLOCK', async t => {
  const ws = await chainWorkspace(t)
  const chain = await ws.open()
  const [block] = await mineBlocks(chain, ws.clock, 1, newKey().addressHash)
  await chain.store.blockstore.db.put(blockstoreKey(block.txs[0].id), new Uint8Array([0xa1, 0x61, 0x78, 0x01]))
  await assert.rejects(chain.getBlock(block.id), (err: unknown) => err instanceof StoreError && err.code === 'CORRUPT_BLOCK')
  await assert.rejects(chain.getTx(block.txs[0].id), (err: unknown) => err instanceof StoreError && err.code === 'CORRUPT_BLOCK')
  await chain.store.blockstore.db.del(blockstoreKey(block.txs[0].id))
  await assert.rejects(chain.getBlock(block.id), (err: unknown) => err instanceof StoreError && err.code === 'CORRUPT_BLOCK')
  const check = chain.verifyChain()
  await assert.rejects(check, (err: unknown) => err instanceof StoreError && err.code === 'CORRUPT_BLOCK')
})

test('a block index with a record missing or at the wrong height is refused on start as CORRUPT_INDEX', async t => {
  const ws = await chainWorkspace(t)
  const chain = await ws.open()
  const blocks = await mineBlocks(chain, ws.clock, 3, newKey().addressHash)
  const second = indexRecordOf(blocks[1])
  await chain.stop()
  const damage = async (change: (index: { del: (key: Uint8Array) => Promise<void>, put: (key: Uint8Array, value: Uint8Array) => Promise<void> }) => Promise<void>): Promise<void> => {
    const db = new Level<string, Uint8Array>(ws.dbPath(), { keyEncoding: 'utf8', valueEncoding: 'view' })
    await change(db.sublevel<Uint8Array, Uint8Array>('i', { keyEncoding: 'view', valueEncoding: 'view' }))
    await db.close()
    await assert.rejects(ws.open(), (err: unknown) => err instanceof StoreError && err.code === 'CORRUPT_INDEX')
  }
  // A record filed under another height: its parent's height + 1 no longer matches.
  await damage(async index => {
    await index.del(indexKey(second.height, second.digest))
    await index.put(indexKey(7, second.digest), encodeIndexValue({ ...second, height: 7 }))
  })
  // Lost: the record above it has no parent.
  await damage(async index => { await index.del(indexKey(7, second.digest)) })
})
