/**
 * A damaged chain database, as a user's disk damages one: each damage is
 * refused at start (or found by the start check) with a coded StoreError, and
 * --reindex, with the blocks it had to drop given again as a peer would, brings
 * the chain back to the same tip and UTXO summary. The datadir holds a wallet
 * too: over the rebuilt chain its balance is what the chain's coins hold,
 * never a balance over a hole, and after the resync what it was.
 */
import assert from 'node:assert/strict'
import { cp, open, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, test, type TestContext } from 'node:test'
import { Level } from 'level'
import type { TestChain } from './helpers/chain-harness.ts'
import type { UtxoSummary } from '../src/chain/types.ts'
import { blockstoreKey, StoreError } from '../src/chain/records.ts'
import { ChainStore } from '../src/chain/store.ts'
import type { Block } from '../src/core/block.ts'
import { equalBytes } from '../src/core/hash.ts'
import { WalletError } from '../src/wallet/errors.ts'
import type { Wallet } from '../src/wallet/wallet.ts'
import { chainWorkspace, mineBlocks, newKey, outputOf, spendTx, watchedStore, type ChainWorkspace, type OpenOptions } from './helpers/chain-harness.ts'
import { waitFor } from './helpers/node-harness.ts'
import { walletIn } from './helpers/wallet-harness.ts'

interface Built {
  blocks: Block[]
  summary: UtxoSummary
  /** The address every 5th block pays: the datadir's wallet's. */
  walletAddress: Uint8Array
  /** What the wallet holds at the end. */
  walletTotal: bigint
}

/**
 * 3 rounds of 60 blocks with spends, each closed and reopened: LevelDB then
 * holds several tables. A wallet beside the chain is paid by every 5th block.
 */
async function build (ws: ChainWorkspace): Promise<Built> {
  const key = newKey()
  const blocks: Block[] = []
  let chain = await ws.open()
  let wallet = walletIn(chain, ws.dir)
  await wallet.create('passphrase')
  const walletAddress = (await wallet.newAddress()).hash
  for (let round = 0; round < 3; round++) {
    for (let n = 0; n < 60; n++) {
      blocks.push(...await mineBlocks(chain, ws.clock, 1, blocks.length % 5 === 4 ? walletAddress : key.addressHash))
      const mature = blocks.length - 12
      if (mature >= 0 && mature % 5 !== 4 && n % 3 === 0) {
        const coin = outputOf(blocks[mature].txs[0])
        const half = coin.amount / 2n
        await chain.acceptTx(spendTx(chain, [coin], key, { outputs: [{ amount: half, address: newKey().addressHash }, { amount: coin.amount - half - 10_000n, address: key.addressHash }] }))
      }
    }
    await wallet.stop()
    await chain.stop()
    chain = await ws.open()
    wallet = walletIn(chain, ws.dir)
    await wallet.start()
  }
  const summary = chain.utxoSummary()
  const walletTotal = totalOf(await scannedBalance(wallet))
  await wallet.stop()
  await chain.stop()
  return { blocks, summary, walletAddress, walletTotal }
}

function totalOf (b: { confirmed: bigint, unconfirmed: bigint, immature: bigint }): bigint {
  return b.confirmed + b.unconfirmed + b.immature
}

/** The wallet's balance once its scan is done (WALLET_SCANNING until then). */
async function scannedBalance (wallet: Wallet): Promise<Awaited<ReturnType<Wallet['balance']>>> {
  return await waitFor(async () => await wallet.balance().catch((err: unknown) => {
    if (err instanceof WalletError && err.code === 'WALLET_SCANNING') return undefined
    throw err
  }), 'the wallet to catch up with the chain')
}

/** Built once for the file, removed after its last test. */
const source = await (async () => {
  const ws = await chainWorkspace({ after: (fn: () => Promise<void>) => { after(fn) } })
  return { ws, built: await build(ws) }
})()

/** A copy of the built datadir for one test, and the names of its tables, largest first. */
async function copy (t: TestContext): Promise<{ ws: ChainWorkspace, tables: string[] }> {
  const ws = await chainWorkspace(t)
  ws.clock.now = source.ws.clock.now
  // The datadir: the database and the marker beside it.
  await cp(source.ws.dir, ws.dir, { recursive: true, filter: src => !src.endsWith('/LOCK') })
  const names = (await readdir(ws.dbPath())).filter(n => n.endsWith('.ldb'))
  const sizes = await Promise.all(names.map(async n => (await stat(join(ws.dbPath(), n))).size))
  assert.ok(names.length >= 2, `LevelDB holds ${names.length} tables`)
  return { ws, tables: names.map((n, i) => ({ n, size: sizes[i] })).sort((a, b) => b.size - a.size).map(x => x.n) }
}

async function refused (ws: ChainWorkspace, code: string, pattern: RegExp, opts: OpenOptions = {}): Promise<void> {
  await assert.rejects(ws.open(opts), (err: unknown) => {
    assert.ok(err instanceof StoreError, `a StoreError, got ${String(err)}`)
    assert.equal(err.code, code, err.message)
    assert.match(err.message, pattern)
    assert.match(err.message, /--reindex/)
    assert.doesNotMatch(err.message, /\n/)
    return true
  })
}

/**
 * The datadir's wallet over `chain`: its balance is what the chain's coins at
 * its address hold, whatever blocks the chain had to drop (the wallet
 * showed 48.8 coins more than existed).
 */
async function walletOver (ws: ChainWorkspace, chain: TestChain): Promise<Wallet> {
  const wallet = walletIn(chain, ws.dir)
  ws.stopAfter(wallet)
  await wallet.start()
  const balance = await scannedBalance(wallet)
  await chain.flush()
  let held = 0n
  for await (const [, coin] of chain.store.coins()) if (equalBytes(coin.address, source.built.walletAddress)) held += coin.amount
  assert.equal(totalOf(balance), held, `the wallet shows what the chain at height ${chain.height} holds for it`)
  return wallet
}

/**
 * --reindex, then every block given again (a peer's resync): back to the same
 * tip and UTXO summary, consistent, and the wallet over it as it was.
 */
async function reindexAndResync (ws: ChainWorkspace): Promise<TestChain> {
  const chain = await ws.open({ reindex: true })
  const wallet = await walletOver(ws, chain)
  for (const block of source.built.blocks) await chain.processBlock(block)
  assert.deepEqual(chain.utxoSummary(), source.built.summary)
  const check = await chain.verifyChain()
  assert.equal(check.ok, true, check.mismatches.join('\n'))
  assert.equal(totalOf(await scannedBalance(wallet)), source.built.walletTotal)
  await wallet.stop()
  await chain.stop()
  // And it starts again without --reindex.
  const again = await ws.open()
  assert.deepEqual(again.utxoSummary(), source.built.summary)
  return again
}

test('a deleted CURRENT is refused (LevelDB would take the directory for a new database), and --reindex recovers everything', async t => {
  const { ws } = await copy(t)
  await rm(join(ws.dbPath(), 'CURRENT'))
  await refused(ws, 'CORRUPT_DB', /CURRENT is missing/)
  const tables = (await readdir(ws.dbPath())).filter(n => n.endsWith('.ldb'))
  assert.ok(tables.length >= 2, 'the refusal deleted no table')
  // LevelDB's repair recovers every table: nothing needs syncing again.
  const chain = await ws.open({ reindex: true })
  assert.deepEqual(chain.utxoSummary(), source.built.summary)
  await (await walletOver(ws, chain)).stop()
  await chain.stop()
  await reindexAndResync(ws)
})

test('an emptied MANIFEST is refused, and --reindex recovers everything', async t => {
  const { ws } = await copy(t)
  const manifest = (await readdir(ws.dbPath())).find(n => n.startsWith('MANIFEST-')) as string
  await writeFile(join(ws.dbPath(), manifest), '')
  await refused(ws, 'CORRUPT_DB', new RegExp(`${manifest} holds no records`))
  const chain = await ws.open({ reindex: true })
  assert.deepEqual(chain.utxoSummary(), source.built.summary)
  await (await walletOver(ws, chain)).stop()
  await chain.stop()
  await reindexAndResync(ws)
})

test('a flipped byte in the middle of a table is refused, and --reindex with a resync recovers', async t => {
  const { ws, tables } = await copy(t)
  const path = join(ws.dbPath(), tables[0])
  const bytes = await readFile(path)
  bytes[bytes.length >> 1] ^= 0x10
  await writeFile(path, bytes)
  await refused(ws, 'CORRUPT_DB', new RegExp(`${tables[0]} data block at offset \\d+ fails its checksum`))
  const chain = await reindexAndResync(ws)
  assert.ok((await readdir(join(ws.dbPath(), 'lost'))).includes(`${tables[0]}.damaged`), 'the damaged table is set aside')
  await chain.stop()
})

test('a truncated table is refused, and --reindex with a resync recovers', async t => {
  const { ws, tables } = await copy(t)
  const path = join(ws.dbPath(), tables[0])
  await truncate(path, (await stat(path)).size >> 1)
  await refused(ws, 'CORRUPT_DB', new RegExp(`${tables[0]} is \\d+ bytes long, the MANIFEST says \\d+`))
  await reindexAndResync(ws)
})

test('a removed table is refused, and --reindex with a resync recovers', async t => {
  const { ws, tables } = await copy(t)
  await rm(join(ws.dbPath(), tables[1]))
  await refused(ws, 'CORRUPT_DB', new RegExp(`${tables[1]} is missing`))
  await reindexAndResync(ws)
})

test('a whole database gone beside its marker is refused, never replaced by a new chain; --reindex starts it again to resync', async t => {
  const { ws } = await copy(t)
  await rm(ws.dbPath(), { recursive: true })
  await refused(ws, 'CORRUPT_DB', /is missing or empty/)
  await reindexAndResync(ws)
})

/** Opens the copy's database directly (valid LevelDB writes: damage no checksum sees). */
async function withDb (ws: ChainWorkspace, fn: (db: Level<string, Uint8Array>) => Promise<void>): Promise<void> {
  const db = new Level<string, Uint8Array>(ws.dbPath(), { keyEncoding: 'utf8', valueEncoding: 'view' })
  try {
    await fn(db)
  } finally {
    await db.close()
  }
}

test('the start check finds a lost coin of a recent block, a deep one with --checkblocks 0, and damaged undo data', async t => {
  const { blocks } = source.built
  const coinOf = (height: number): string => `${blocks[height - 1].txs[0].idString}:0`
  const { ws } = await copy(t)
  // The tip's coinbase output: within the last 6 blocks.
  await withDb(ws, async db => { await db.sublevel('u').del(coinOf(blocks.length)) })
  await refused(ws, 'CORRUPT_UTXO', new RegExp(`block ${blocks.length} .*output ${coinOf(blocks.length)} is missing from the UTXO set`))

  const deep = await copy(t)
  // Height 170: unspent (its coinbase is not yet spent by the builder), 10 blocks below the tip.
  await withDb(deep.ws, async db => { await db.sublevel('u').del(coinOf(170)) })
  const chain = await deep.ws.open()
  await chain.stop()
  await refused(deep.ws, 'CORRUPT_UTXO', /block 170 /, { checkBlocks: 0 })

  const undo = await copy(t)
  const tipDigest = blocks[blocks.length - 2].id.multihash.digest
  await withDb(undo.ws, async db => { await db.sublevel<Uint8Array, Uint8Array>('r', { keyEncoding: 'view', valueEncoding: 'view' }).put(tipDigest, new Uint8Array([0, 1, 0x41])) })
  await refused(undo.ws, 'CORRUPT_UNDO', /truncated undo record/)
})

test('--reindex rebuilds a UTXO set and undo data lost whole from the blocks alone', async t => {
  const { ws } = await copy(t)
  await withDb(ws, async db => {
    await db.sublevel('u').clear()
    await db.sublevel('r').clear()
  })
  await refused(ws, 'CORRUPT_UNDO', /undo data of a connected block is missing/)
  const chain = await ws.open({ reindex: true })
  assert.deepEqual(chain.utxoSummary(), source.built.summary)
  const check = await chain.verifyChain()
  assert.equal(check.ok, true, check.mismatches.join('\n'))
  await walletOver(ws, chain)
})

test('a block the index holds but the store lost reads as CORRUPT_BLOCK, never as not found', async t => {
  const { ws } = await copy(t)
  // No block cache: each read below goes to the tables, as a node's reads of old blocks do.
  const chain = await ws.open({ store: (path, init) => new ChainStore(path, { ...init, leveldb: { cacheSize: 0, writeBufferSize: 4 * 1024 * 1024 } }) })
  const block = source.built.blocks[100]
  await chain.store.blockstore.db.del(blockstoreKey(block.id))
  // Each read names the damage and the remedy (README: "fails the same way, never as not found").
  const damaged = (err: unknown): boolean => err instanceof StoreError && err.code === 'CORRUPT_BLOCK' && /--reindex/.test(err.message)
  await assert.rejects(chain.getBlock(block.id), damaged)
  await assert.rejects(chain.getBlocksWire([block.id]), damaged)
  await assert.rejects(chain.getHeader(block.id), damaged)
  await assert.rejects(chain.verifyChain(), damaged)
  // LevelDB's own corruption errors are damage too, with the remedy: the tables
  // decay under the running node (the first half of each, its data blocks;
  // its index at the end stays readable, so LevelDB finds the keys and fails to read them).
  for (const name of (await readdir(ws.dbPath())).filter(n => n.endsWith('.ldb'))) {
    const file = await open(join(ws.dbPath(), name), 'r+')
    const half = (await file.stat()).size >> 1
    await file.write(new Uint8Array(half).fill(0x55), 0, half, 0)
    await file.close()
  }
  const reads = await Promise.allSettled(source.built.blocks.slice(0, 100).map(async b => await chain.getBlock(b.id)))
  const failed = reads.flatMap(r => r.status === 'rejected' ? [r.reason as unknown] : [])
  assert.ok(failed.length > 0, 'some reads meet the decayed blocks')
  for (const err of failed) assert.ok(err instanceof StoreError && err.code === 'CORRUPT_DB' && /--reindex/.test(err.message), String(err))
})

test('a reindex cut short begins again by itself at the next start, without --reindex (README)', async t => {
  const { ws } = await copy(t)
  let stored = 0
  const cut = watchedStore({ putBlock: () => { if (++stored > 90) throw new Error('the power went off') } })
  await assert.rejects(ws.open({ reindex: true, store: cut }), /the power went off/)
  const chain = await ws.open()
  assert.deepEqual(chain.utxoSummary(), source.built.summary)
  assert.equal(await chain.store.getMeta('reindex'), undefined, 'done: the next start does not reindex')
  const check = await chain.verifyChain()
  assert.equal(check.ok, true, check.mismatches.join('\n'))
  await walletOver(ws, chain)
})
