import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { chainDatadir } from '../bench/fixtures.ts'
import { MEMPOOL_FILE } from '../src/chain/mempool-file.ts'
import { blockstoreKey } from '../src/chain/records.ts'
import type { BlockEntry } from '../src/chain/types.ts'
import { decodeAddress } from '../src/core/address.ts'
import { COIN, formatAmount } from '../src/core/amount.ts'
import type { Block } from '../src/core/block.ts'
import type { CID } from '../src/core/cbor.ts'
import { subsidyAt } from '../src/core/params.ts'
import { RpcCallError } from '../src/rpc/client.ts'
import { WalletError } from '../src/wallet/errors.ts'
import { WALLET_FILE } from '../src/wallet/wallet.ts'
import { HISTORY_DIR } from '../src/wallet/wallet-store.ts'
import type { TestChain } from './helpers/chain-harness.ts'
import { BranchBuilder, mineBlocks, openChain } from './helpers/chain-harness.ts'
import { newKey, ownDatadir, regtest, rejectsWith, rpc, startNode, tempDatadir, waitFor } from './helpers/node-harness.ts'
import { walletIn } from './helpers/wallet-harness.ts'
import type { CointsNode } from '../src/node/node.ts'

interface WalletInfo {
  scanning: false | { height: number, tip: number, progress: number, duration: number }
  lastprocessedblock: { hash: string, height: number } | null
  scan_error: { code: string, message: string } | null
}

const walletInfo = async (node: CointsNode): Promise<WalletInfo> => await rpc(node, 'getwalletinfo')

/** The balance (as getbalance gives it) of coinbases at `heights` paid to the wallet, with the tip at `tip`. */
function coinbaseBalance (heights: number[], tip: number): Record<string, string> {
  let confirmed = 0n
  let immature = 0n
  for (const h of heights) {
    if (tip + 1 - h >= regtest.coinbaseMaturity) confirmed += subsidyAt(regtest, h)
    else immature += subsidyAt(regtest, h)
  }
  return { confirmed: formatAmount(confirmed), unconfirmed: '0', immature: formatAmount(immature) }
}

/** Calls chain.getBlocks through `spy` (which sees the ids asked for), from now on. */
function spyOnBlockReads (chain: TestChain, spy: (ids: CID[]) => Promise<void> | void): void {
  const read = chain.getBlocks.bind(chain)
  chain.getBlocks = async ids => {
    await spy(ids)
    return await read(ids)
  }
}

const damages: Array<[string, (block: Block) => string]> = [
  ['its header', block => blockstoreKey(block.id)],
  ['a transaction', block => blockstoreKey(block.txs[0].id)]
]
for (const [what, keyOf] of damages) {
  test(`a wallet scan that meets a block missing ${what} stops with SCAN_FAILED and gives no balance over the hole; once the block reads again, the next block resumes it`, async t => {
    const datadir = await tempDatadir(t)
    let node = await startNode(t, { datadir })
    await rpc(node, 'createwallet', ['passphrase'])
    await rpc(node, 'generate', [20])
    const damaged = await node.chain.getBlock((node.chain.getEntryAt(5) as BlockEntry).id) as Block
    await node.stop()
    // The history gone (a wallet restored, or from before it kept one): the scan must read the damaged block.
    await rm(join(datadir, HISTORY_DIR), { recursive: true })
    const db = new Level<string, Uint8Array>(join(datadir, 'chain'), { keyEncoding: 'utf8', valueEncoding: 'view' })
    const blocks = db.sublevel<string, Uint8Array>('b', { keyEncoding: 'utf8', valueEncoding: 'view' })
    const key = keyOf(damaged)
    const value = await blocks.get(key) as Uint8Array
    await blocks.del(key)
    await db.close()

    node = await startNode(t, { datadir })
    const failure = await waitFor(async () => (await walletInfo(node)).scan_error ?? undefined, 'the scan to stop at the damaged block')
    assert.equal(failure.code, 'SCAN_FAILED')
    assert.match(failure.message, new RegExp(`block ${damaged.idString} at height 5`))
    const info = await walletInfo(node)
    assert.equal(info.scanning, false)
    assert.equal(info.lastprocessedblock?.height, 4, 'scanned up to the block before the hole')
    for (const method of ['getbalance', 'listunspent', 'listtransactions'] as const) await rejectsWith(rpc(node, method), 'SCAN_FAILED')
    await rpc(node, 'walletpassphrase', ['passphrase', 60])
    await rejectsWith(rpc(node, 'sendtoaddress', [newKey().address, '1']), 'SCAN_FAILED')

    // Repaired (as a resync from peers would), the scan goes on from the block when the next one arrives.
    await node.store.blockstore.db.put(key, value)
    await rpc(node, 'generate', [1, newKey().address])
    await waitFor(async () => {
      const i = await walletInfo(node)
      return i.scan_error === null && i.scanning === false && i.lastprocessedblock?.height === 21
    }, 'the scan to pass the repaired block')
    assert.deepEqual(await rpc(node, 'getbalance'), coinbaseBalance(Array.from({ length: 20 }, (_, n) => n + 1), 21))
  })
}

test('a restart with 20,000 blocks and a wallet answers RPC within 2 s (1.5 times the node without it, if that is slower) while the wallet scans in the background (WALLET_SCANNING meanwhile, never a partial balance); the next restart scans nothing', async t => {
  const datadir = ownDatadir(t, (await chainDatadir(20_000, { walletEvery: 100 })).datadir)
  const expected = coinbaseBalance(Array.from({ length: 200 }, (_, n) => (n + 1) * 100), 20_000)
  const readyMs = async (node: Promise<CointsNode>): Promise<number> => {
    const started = performance.now()
    await walletInfo(await node)
    return performance.now() - started
  }
  // A node ran on it (its first open replays LevelDB's log): what follows are restarts.
  await (await startNode(t, { datadir })).stop()
  // The same restart without the wallet: on a machine loaded enough that it
  // takes over 1.3 s, the bound is 1.5 times it.
  const walletFile = join(datadir, WALLET_FILE)
  await rename(walletFile, `${walletFile}.away`)
  const node = startNode(t, { datadir })
  const withoutWalletMs = await readyMs(node)
  await (await node).stop()
  await rename(`${walletFile}.away`, walletFile)
  const bound = Math.max(2_000, 1.5 * withoutWalletMs)
  // A wallet without its history (from before it kept one, or restored): the whole chain to scan.
  await rm(join(datadir, HISTORY_DIR), { recursive: true })
  for (const scan of ['the whole chain', 'nothing']) {
    const starting = startNode(t, { datadir })
    const ms = await readyMs(starting)
    const node = await starting
    const first = await walletInfo(node)
    t.diagnostic(`RPC ready ${Math.round(ms)} ms after the start began with ${scan} to scan; without the wallet ${Math.round(withoutWalletMs)} ms`)
    assert.ok(ms < bound, `RPC answered ${Math.round(ms)} ms after the start began, with ${scan} to scan (without the wallet: ${Math.round(withoutWalletMs)} ms)`)
    if (first.scanning !== false) {
      assert.equal(first.scanning.tip, 20_000)
      assert.ok(first.scanning.progress >= 0 && first.scanning.progress <= 1)
    }
    if (scan === 'nothing') assert.deepEqual(first.lastprocessedblock, { hash: node.chain.tip.idString, height: 20_000 }, 'the history was read, not scanned again')
    const balance = await waitFor(async () => {
      try {
        return await rpc(node, 'getbalance')
      } catch (err) {
        assert.ok(err instanceof RpcCallError && err.code === 'WALLET_SCANNING', String(err))
        assert.equal(err.rpcCode, -28, 'RPC_IN_WARMUP: a bitcoind client retries it')
        return undefined
      }
    }, 'the background scan to finish', 120_000)
    assert.deepEqual(balance, expected)
    await node.stop()
  }
})

test('a reorganisation while the wallet was stopped is found at start: it scans from the fork only, undoes what it learned above it, and agrees with a wallet scanned from scratch', async t => {
  const { chain, ws } = await openChain(t)
  const datadir = ws.dbPath('wallet')
  await mkdir(datadir, { recursive: true })
  const first = walletIn(chain, datadir)
  const mnemonic = await first.create('passphrase')
  const paid = await first.newAddress()
  const blocks = await mineBlocks(chain, ws.clock, 12, paid.hash)
  await first.unlock('passphrase', 60)
  const txid = await first.send(newKey().address, 10n * COIN)
  const [withSend, above] = await mineBlocks(chain, ws.clock, 2, paid.hash)
  assert.ok(withSend.txs.some(tx => tx.idString === txid))
  await first.stop()

  // While the wallet is stopped, a heavier branch from height 12 (paying someone else) replaces 13 and 14.
  const branch = BranchBuilder.on(chain, chain.getEntryAt(12) as BlockEntry)
  for (const block of branch.extend(3)) await chain.processBlock(block)
  assert.equal(chain.height, 15)
  assert.equal(chain.isOnBestChain(above.idString), false)
  assert.ok(chain.mempool.has(txid), 'the payment went back to the mempool')

  const heightsRead: number[] = []
  spyOnBlockReads(chain, ids => { for (const id of ids) heightsRead.push(chain.getEntry(id.toString())?.height ?? -1) })
  const second = walletIn(chain, datadir)
  ws.stopAfter(second)
  await second.start()
  const coins = await second.coins()
  assert.deepEqual(heightsRead, [13, 14, 15], 'only the blocks above the fork are read')
  const keys = new Set(coins.map(c => c.key))
  for (const gone of [withSend, above]) assert.equal(keys.has(`${gone.txs[0].idString}:0`), false, `the coinbase at height ${gone.height} left with its block`)
  assert.equal(keys.has(`${blocks[0].txs[0].idString}:0`), false, 'still spent by the payment')
  const row = (await second.transactions()).find(r => r.txid === txid)
  assert.equal(row?.confirmations, 0, 'the payment is unconfirmed again')

  const fresh = walletIn(chain, ws.dbPath('restored'))
  await mkdir(ws.dbPath('restored'), { recursive: true })
  ws.stopAfter(fresh)
  await fresh.restore(mnemonic, 'passphrase')
  assert.deepEqual(await second.balance(), await fresh.balance())
  assert.deepEqual(coins.map(c => c.key).sort(), (await fresh.coins()).map(c => c.key).sort())
})

test('while the wallet scans, start has returned and balance, coins, history and sends answer WALLET_SCANNING after a short wait; getwalletinfo says how far it is', async t => {
  const { chain, ws } = await openChain(t)
  const datadir = ws.dbPath('wallet')
  await mkdir(datadir, { recursive: true })
  const first = walletIn(chain, datadir)
  await first.create('passphrase')
  const paid = await first.newAddress()
  await mineBlocks(chain, ws.clock, 12, paid.hash)
  await first.stop()
  await rm(join(datadir, HISTORY_DIR), { recursive: true })

  let release = (): void => {}
  const held = new Promise<void>(resolve => { release = resolve })
  spyOnBlockReads(chain, async () => { await held })
  const wallet = walletIn(chain, datadir, { scanWaitMs: 50 })
  ws.stopAfter({
    async stop () {
      release()
      await wallet.stop()
    }
  })
  let started = false
  void wallet.start().then(() => { started = true })
  await waitFor(() => started, 'start to return while its scan waits for blocks', 5_000)
  assert.deepEqual(wallet.info().scanning, { height: 0, tip: 12, progress: 0, duration: 0 })
  const scanning = (err: unknown): boolean => err instanceof WalletError && err.code === 'WALLET_SCANNING'
  await assert.rejects(wallet.balance(), scanning)
  await assert.rejects(wallet.coins(), scanning)
  await assert.rejects(wallet.transactions(), scanning)
  await wallet.unlock('passphrase', 60)
  await assert.rejects(wallet.send(newKey().address, COIN), scanning)
  release()
  assert.deepEqual(await wallet.balance(), { confirmed: 150n * COIN, unconfirmed: 0n, immature: 450n * COIN })
  assert.equal(wallet.info().scanning, false)
})

test('a payment the mempool lost while the node was down is resubmitted by the wallet at start', async t => {
  const datadir = await tempDatadir(t)
  let node = await startNode(t, { datadir })
  await rpc(node, 'createwallet', ['passphrase'])
  await rpc(node, 'generate', [regtest.coinbaseMaturity + 1])
  await rpc(node, 'walletpassphrase', ['passphrase', 60])
  const txid = await rpc(node, 'sendtoaddress', [newKey().address, '5'])
  const balance = await rpc(node, 'getbalance')
  await node.stop()
  await rm(join(datadir, MEMPOOL_FILE))

  node = await startNode(t, { datadir })
  assert.deepEqual(await rpc(node, 'getbalance'), balance)
  assert.ok(node.mempool.has(txid), 'back in the mempool (and so announced to peers again)')
})

type BatchWrite = (options?: { sync?: boolean }) => Promise<void>

/** Until the test ends, each batch written to a wallet history goes through `write`, given the batch's own write and its options. */
function interceptHistoryWrites (t: TestContext, write: (original: BatchWrite, options: { sync?: boolean } | undefined, location: string) => Promise<void>): void {
  type Batch = (this: { location: string }, ...args: unknown[]) => { write: BatchWrite }
  const proto = Level.prototype as unknown as { batch: Batch }
  const batch = proto.batch
  proto.batch = function (...args) {
    const chained = batch.apply(this, args)
    const original = chained.write.bind(chained)
    if (args.length === 0 && this.location.endsWith(HISTORY_DIR)) chained.write = async options => { await write(original, options, this.location) }
    return chained
  }
  t.after(() => { delete (proto as { batch?: Batch }).batch })
}

/** Until the test ends, every batch written to a wallet history fails as LevelDB's writes do on a full disk. */
function failHistoryWrites (t: TestContext): void {
  interceptHistoryWrites(t, async (_write, _options, location) => { throw new Error(`IO error: ${location}/000005.log: No space left on device`) })
}

test('a payment is in the wallet\'s history, synced, before it is sent: a power cut after the send cannot lose it', async t => {
  const node = await startNode(t, { p2p: false })
  await rpc(node, 'createwallet', ['passphrase'])
  await rpc(node, 'generate', [regtest.coinbaseMaturity + 2])
  await rpc(node, 'walletpassphrase', ['passphrase', 60])
  const writes: Array<{ sync: boolean, inMempool: number }> = []
  interceptHistoryWrites(t, async (write, options) => {
    writes.push({ sync: options?.sync === true, inMempool: node.mempool.size })
    await write(options)
  })
  await node.wallet.send(newKey().address, COIN)
  assert.deepEqual(writes.filter(w => w.sync), [{ sync: true, inMempool: 0 }], 'one synced write, before the mempool had the payment')
})

test('a payment the wallet cannot write (its history\'s disk is full) is never sent, the node shuts down with the reason, and the restart shows the wallet as it was', async t => {
  const datadir = await tempDatadir(t)
  let node = await startNode(t, { datadir, p2p: false })
  await rpc(node, 'createwallet', ['passphrase'])
  await rpc(node, 'generate', [regtest.coinbaseMaturity + 2])
  await rpc(node, 'walletpassphrase', ['passphrase', 60])
  const before = { balance: await rpc(node, 'getbalance'), history: await rpc(node, 'listtransactions') }

  failHistoryWrites(t)
  await assert.rejects(node.wallet.send(newKey().address, COIN), (err: unknown) => {
    assert.ok(err instanceof WalletError && err.code === 'DISK_FULL', String(err))
    assert.match(err.message, /^DISK_FULL: the payment was not sent: writing the wallet history in .*wallet-history failed: the disk is full \(IO error: .*No space left on device\); free some space and start the node again/)
    return true
  })
  assert.equal(node.mempool.size, 0, 'nothing was sent')
  await node.stopped
  assert.equal(node.haltReason?.code, 'DISK_FULL')
  delete (Level.prototype as { batch?: unknown }).batch

  node = await startNode(t, { datadir, p2p: false })
  const after = await waitFor(async () => {
    try {
      return { balance: await rpc(node, 'getbalance'), history: await rpc(node, 'listtransactions') }
    } catch (err) {
      if (err instanceof RpcCallError && err.code === 'WALLET_SCANNING') return undefined
      throw err
    }
  }, 'the wallet to catch up')
  assert.deepEqual(after, before)
})

test('a flipped byte in a table of the wallet history (an address\'s hash) is found at start: the history is set aside and rebuilt by a scan, never read as data', async t => {
  const datadir = await tempDatadir(t)
  let node = await startNode(t, { datadir, p2p: false })
  const { address } = await rpc(node, 'createwallet', ['passphrase'])
  const mined = regtest.coinbaseMaturity + 3
  await rpc(node, 'generate', [mined, address])
  // Handed out, not paid yet: its hash is in the history's address records only.
  const next = await rpc(node, 'getnewaddress')
  await node.stop()
  // The next open turns the history's log into a table.
  node = await startNode(t, { datadir, p2p: false })
  await node.stop()

  const history = join(datadir, HISTORY_DIR)
  // Its last 12 bytes: a table stores a key as what it does not share with the key before (prefix compression),
  // and the address before may begin with the same byte or two.
  const tail = Buffer.from(decodeAddress(regtest.addressPrefix, next)).subarray(8)
  const tables = (await readdir(history)).filter(n => n.endsWith('.ldb'))
  const held = await Promise.all(tables.map(async n => await readFile(join(history, n))))
  const at = held.findIndex(bytes => bytes.includes(tail))
  assert.ok(at >= 0, `the address's hash is in a table (${tables.join(', ')})`)
  held[at][held[at].indexOf(tail) + 3] ^= 0x04
  await writeFile(join(history, tables[at]), held[at])

  // Read as data, the flipped hash would be watched instead of the address's: its payment missed.
  node = await startNode(t, { datadir, p2p: false })
  await rpc(node, 'generate', [1, next])
  const heights = Array.from({ length: mined + 1 }, (_, n) => n + 1)
  const after = await waitFor(async () => await rpc(node, 'getbalance').catch((err: unknown) => {
    if (err instanceof RpcCallError && err.code === 'WALLET_SCANNING') return undefined
    throw err
  }), 'the wallet to rescan')
  assert.deepEqual(after, coinbaseBalance(heights, mined + 1))
  assert.ok((await readdir(datadir)).some(n => n.startsWith(`${HISTORY_DIR}.damaged-`)), 'the damaged history is set aside')
})
