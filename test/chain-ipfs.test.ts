import assert from 'node:assert/strict'
import { cp } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import { LevelBlockstore } from 'blockstore-level'
import { createHeliaLight } from 'helia'
import type { Blockstore } from 'interface-blockstore'
import { Level } from 'level'
import { CID } from 'multiformats/cid'
import type { TestChain } from './helpers/chain-harness.ts'
import { StoreError } from '../src/chain/records.ts'
import type { BlockEntry } from '../src/chain/types.ts'
import type { Block } from '../src/core/block.ts'
import { cidOf } from '../src/core/cbor.ts'
import { BlockError } from '../src/core/errors.ts'
import { equalBytes, sha256 } from '../src/core/hash.ts'
import { genesisBlock, subsidyAt } from '../src/core/params.ts'
import { BranchBuilder, mineBlocks, newKey, openChain, outputOf, regtest, spendTx, type ChainWorkspace } from './helpers/chain-harness.ts'

async function bytesOf (store: Blockstore, cid: CID): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const chunk of store.get(cid)) chunks.push(chunk)
  return Uint8Array.from(Buffer.concat(chunks))
}

/** Every block a blockstore enumerates: CID string → bytes, each checked to hash to its CID. */
async function enumerate (store: Blockstore): Promise<Map<string, Uint8Array>> {
  const found = new Map<string, Uint8Array>()
  for await (const { cid, bytes } of store.getAll()) {
    const chunks: Uint8Array[] = []
    for await (const chunk of bytes) chunks.push(chunk)
    const value = Uint8Array.from(Buffer.concat(chunks))
    assert.equal(cid.multihash.code, 0x12, 'sha2-256')
    assert.ok(equalBytes(sha256(value), cid.multihash.digest), `${cid.toString()}: its bytes hash to it`)
    // Ours are dag-cbor; blockstore-level, which keeps only multihashes, says raw.
    found.set(CID.createV1(dagCbor.code, cid.multihash).toString(), value)
  }
  return found
}

/** The CIDs of a block's objects: header, transaction list, transactions. */
function objectsOf (block: Block): string[] {
  return [block.idString, cidOf(block.txList).toString(), ...block.txs.map(tx => tx.idString)]
}

/** A stock LevelBlockstore over a stopped chain's datadir: blockstore-level's class over the sublevel "b". */
async function stockBlockstore (t: TestContext, dbPath: string): Promise<{ store: LevelBlockstore, db: Level<string, Uint8Array> }> {
  const db = new Level<string, Uint8Array>(dbPath, { keyEncoding: 'utf8', valueEncoding: 'view' })
  const store = new LevelBlockstore(db.sublevel<string, Uint8Array>('b', { keyEncoding: 'utf8', valueEncoding: 'view' }) as unknown as Level<string, Uint8Array>)
  await store.open()
  t.after(async () => { await db.close() })
  return { store, db }
}

interface Fixture {
  chain: TestChain
  ws: ChainWorkspace
  /** Blocks on the best chain (genesis first) and on a valid side branch. */
  best: Block[]
  side: Block[]
  /** A side block stored and later found invalid, the block on it whose tip move found it, an invalid tip block. */
  invalid: Block[]
  /** Transactions of the invalid side block that valid blocks hold too. */
  shared: string[]
}

/**
 * A chain after mining with transactions, with a valid side branch and blocks
 * found invalid: one stored on the side (holding a transaction of the best
 * chain and one of the side branch, and one of its own), the block on it whose
 * tip move showed it invalid, and a tip block with an overspending coinbase.
 */
async function fixture (t: TestContext): Promise<Fixture> {
  const { chain, ws } = await openChain(t)
  const key = newKey()
  const best = [genesisBlock(regtest), ...await mineBlocks(chain, ws.clock, 12, key.addressHash)]
  const payments = [1, 2, 3].map(h => spendTx(chain, [outputOf(best[h].txs[0])], key))
  for (const tx of payments) await chain.acceptTx(tx)
  best.push(...await mineBlocks(chain, ws.clock, 3, key.addressHash))
  const onSideOnly = spendTx(chain, [outputOf(best[4].txs[0])], key)
  const side = BranchBuilder.on(chain, chain.getEntryAt(chain.height - 2) as BlockEntry).extend(1, { txs: [onSideOnly] })
  assert.deepEqual(await chain.processBlock(side[0]), { status: 'side' })

  const branch = BranchBuilder.on(chain, chain.getEntryAt(chain.height - 1) as BlockEntry)
  // payments[0] is confirmed below the fork, so spending its coin again is what makes the block invalid.
  const respend = spendTx(chain, [outputOf(best[1].txs[0])], key, { fee: 3_000n })
  const badSide = branch.next({ txs: [payments[2], onSideOnly, respend] })
  assert.deepEqual(await chain.processBlock(badSide), { status: 'side' }, 'equal work: stored, not yet connected')
  const onBad = branch.next()
  await assert.rejects(chain.processBlock(onBad), (err: unknown) => err instanceof BlockError && err.code === 'PREV_INVALID')
  const badTip = BranchBuilder.on(chain, chain.tip).next({ coinbaseOutputs: [{ amount: subsidyAt(regtest, chain.height + 1) + 1n, address: key.addressHash }] })
  await assert.rejects(chain.processBlock(badTip), (err: unknown) => err instanceof BlockError && err.code === 'BAD_COINBASE_VALUE')
  for (const b of [badSide, onBad, badTip]) assert.equal(chain.blockInfo(b.idString)?.validity, 'invalid')
  return { chain, ws, best, side, invalid: [badSide, onBad, badTip], shared: [payments[2].idString, onSideOnly.idString] }
}

function expectedObjects (f: Fixture): Set<string> {
  return new Set([...f.best, ...f.side].flatMap(objectsOf))
}

test('the blockstore enumerates exactly the valid blocks\' headers, lists and transactions, each hashing to its CID', async t => {
  const f = await fixture(t)
  const expected = expectedObjects(f)
  const live = await enumerate(f.chain.store.blockstore)
  assert.deepEqual(new Set(live.keys()), expected)
  for (const id of f.shared) assert.ok(live.has(id), `a transaction the invalid side block shares with valid blocks stays: ${id}`)
  for (const id of f.invalid.flatMap(objectsOf).filter(id => !f.shared.includes(id))) assert.equal(live.has(id), false, `nothing else of the invalid blocks: ${id}`)
  for (const block of f.invalid) assert.equal(await f.chain.store.blockstore.has(block.id), false)
  // getblock still answers them by their headers, kept outside the blockstore.
  for (const block of f.invalid) assert.equal((await f.chain.getHeader(block.id))?.idString, block.idString)

  // A stock blockstore-level over the stopped node's datadir sees the same, and walks the DAG as an IPFS tool would.
  const tip = f.best[f.best.length - 1]
  await f.chain.stop()
  const { store } = await stockBlockstore(t, f.ws.dbPath())
  assert.deepEqual(new Set((await enumerate(store)).keys()), expected)
  const header = dagCbor.decode<{ prev: CID, txs: CID }>(await bytesOf(store, tip.id))
  assert.deepEqual(await bytesOf(store, tip.id), Uint8Array.from(tip.header.bytes))
  const txids = dagCbor.decode<CID[]>(await bytesOf(store, header.txs))
  assert.deepEqual(txids.map(String), tip.txs.map(tx => tx.idString))
  assert.deepEqual(await bytesOf(store, txids[0]), Uint8Array.from(tip.txs[0].bytes))
  assert.ok(await store.has(header.prev), 'the parent is there too')
})

test('Helia\'s garbage collection over the chain\'s blockstore is refused, deleting nothing; so are puts and deletes', async t => {
  const f = await fixture(t)
  const { blockstore } = f.chain.store
  const before = await enumerate(blockstore)
  // A stock Helia with no networking at all (no libp2p, routers or block brokers), nothing pinned.
  const helia = createHeliaLight({ blockstore, codecs: [dagCbor] })
  await helia.start()
  t.after(async () => { await helia.stop() })
  await assert.rejects(helia.gc(), (err: unknown) => err instanceof StoreError && err.code === 'CHAIN_BLOCK')
  assert.deepEqual(await enumerate(blockstore), before)
  const tip = f.best[f.best.length - 1]
  await assert.rejects(async () => { await helia.blockstore.delete(tip.id) }, (err: unknown) => err instanceof StoreError && err.code === 'CHAIN_BLOCK')
  await assert.rejects(async () => await helia.blockstore.put(cidOf(new Uint8Array([0xa0])), new Uint8Array([0xa0])), (err: unknown) => err instanceof StoreError && err.code === 'READ_ONLY')
  assert.equal(await helia.blockstore.has(tip.id), true)
  const check = await f.chain.verifyChain()
  assert.equal(check.ok, true, check.mismatches.join('\n'))
})

test('a stock blockstore-level over a copy of the datadir, tip pinned: Helia\'s garbage collection deletes the valid side branch (why the chain\'s own blockstore refuses deletes)', async t => {
  const f = await fixture(t)
  await f.chain.stop()
  const copy = join(f.ws.dir, 'copy')
  await cp(f.ws.dbPath(), copy, { recursive: true })
  const { store } = await stockBlockstore(t, copy)
  const helia = createHeliaLight({ blockstore: store, codecs: [dagCbor] })
  await helia.start()
  t.after(async () => { await helia.stop() })
  const before = await enumerate(store)
  // The recursive pin walks prev down to genesis and every list's transactions.
  for await (const _ of helia.pins.add(f.best[f.best.length - 1].id)) { /* walked */ }
  await helia.gc()
  const after = await enumerate(store)
  const gone = [...before.keys()].filter(id => !after.has(id)).sort()
  const onBest = new Set(f.best.flatMap(objectsOf))
  assert.deepEqual(gone, f.side.flatMap(objectsOf).filter(id => !onBest.has(id)).sort())
})
