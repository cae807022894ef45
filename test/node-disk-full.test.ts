/**
 * A full disk, made with a small tmpfs datadir (root: as CI runs): the node
 * shuts down cleanly with the reason instead of failing every write, and once
 * space is freed it starts again with nothing lost up to its last flush, its
 * mempool back and its wallet as it was.
 */
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, open, readFile, rm, statfs } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { test, type TestContext } from 'node:test'
import { decodeMempoolFile, MEMPOOL_FILE } from '../src/chain/mempool-file.ts'
import { decodeAddress } from '../src/core/address.ts'
import { parseAmount } from '../src/core/amount.ts'
import { BLOCK_VERSION, encodeTxList, NONCE_BYTES } from '../src/core/block.ts'
import { cidOf, parseCid } from '../src/core/cbor.ts'
import { fromHex, toHex } from '../src/core/hash.ts'
import { chainTag, genesisBlock, subsidyAt } from '../src/core/params.ts'
import { Tx, TX_VERSION } from '../src/core/tx.ts'
import { rpcClient, RpcCallError } from '../src/rpc/client.ts'
import type { RpcCall } from '../src/rpc/contract.ts'
import { freePort } from '../src/util/free-port.ts'
import { StoreError } from '../src/chain/records.ts'
import { solveBlock } from '../src/miner/solve.ts'
import { chainWorkspace, outputOf, spendTx } from './helpers/chain-harness.ts'
import { newKey, regtest, waitFor, type TestKey } from './helpers/node-harness.ts'

const MAIN = new URL('../src/cli/main.ts', import.meta.url).pathname
const run = promisify(execFile)
const skip = process.getuid?.() !== 0 ? 'mounting a tmpfs needs root' : false

interface Disk { dir: string, nodes: Set<ChildProcess> }

/** A tmpfs of `mb` MB; after the test its nodes are killed, then it is unmounted. */
async function tmpfs (t: TestContext, mb: number): Promise<Disk> {
  const disk: Disk = { dir: await mkdtemp(join(tmpdir(), 'coints-tmpfs-')), nodes: new Set() }
  await run('mount', ['-t', 'tmpfs', '-o', `size=${mb}m`, 'tmpfs', disk.dir])
  t.after(async () => {
    for (const child of disk.nodes) {
      if (child.exitCode !== null || child.signalCode !== null) continue
      child.kill('SIGKILL')
      await once(child, 'exit')
    }
    await run('umount', [disk.dir])
    await rm(disk.dir, { recursive: true, force: true })
  })
  return disk
}

interface NodeChild { child: ChildProcess, exited: Promise<[number | null, string | null]>, stderr: () => string, rpc: RpcCall }

/** `coints node` on `datadir` without networking; resolves once its RPC answers, or once it exited. */
async function startNode (disk: Disk, minFreeMb: number, address: string): Promise<NodeChild> {
  const port = await freePort()
  const datadir = join(disk.dir, 'node')
  const child = spawn(process.execPath, [MAIN, 'node', '--no-http', '--network', 'regtest', '--datadir', datadir, '--rpc-port', String(port), '--no-p2p', '--min-free-mb', String(minFreeMb), '--miner-address', address, '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] })
  disk.nodes.add(child)
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>
  const node: NodeChild = { child, exited, stderr: () => stderr, rpc: rpcClient({ datadir, port }) }
  await waitFor(async () => child.exitCode !== null || await node.rpc('getblockchaininfo').then(() => true, () => false), 'the node to answer RPC or exit')
  return node
}

/** Writes zeros until only `leaveBytes` are free (or the disk is full). */
async function fill (dir: string, leaveBytes: number): Promise<string> {
  const path = join(dir, 'filler')
  const file = await open(path, 'w')
  const chunk = Buffer.alloc(256 * 1024)
  try {
    for (;;) {
      const fs = await statfs(dir)
      const room = fs.bavail * fs.bsize - leaveBytes
      if (room <= 0) break
      await file.write(chunk, 0, Math.min(chunk.length, room))
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  } finally {
    await file.close()
  }
  return path
}

/**
 * A block with its coinbase alone (paying `to`) on the node's tip, through
 * getblocktemplate and submitblock: the mempool's transactions stay unconfirmed.
 */
async function mineEmptyBlock (node: NodeChild, to: TestKey): Promise<void> {
  const t = await node.rpc('getblocktemplate', [to.address])
  const coinbase = Tx.create({ version: TX_VERSION, height: t.height, inputs: [], outputs: [{ amount: subsidyAt(regtest, t.height), address: to.addressHash }] })
  const header = { version: BLOCK_VERSION, height: t.height, prev: t.prev === null ? null : parseCid(t.prev), txs: cidOf(encodeTxList([coinbase])), time: t.time, bits: parseInt(t.bits, 16), nonce: new Uint8Array(NONCE_BYTES) }
  const block = solveBlock({ header, txs: [coinbase] })
  await node.rpc('submitblock', [toHex(block.encode())])
}

/** Mines blocks without the mempool's transactions until the node exits by itself; returns its exit code. */
async function mineUntilExit (node: NodeChild, to: TestKey): Promise<number | null> {
  await waitFor(async () => {
    if (node.child.exitCode !== null) return true
    await mineEmptyBlock(node, to).catch(() => {})
    return false
  }, 'the node to shut down on a full disk', 60_000)
  return (await node.exited)[0]
}

async function flushedState (node: NodeChild): Promise<{ height: number, tip: string }> {
  // verifychain writes what memory holds first: the state every restart must keep.
  const check = await node.rpc('verifychain')
  assert.equal(check.ok, true)
  return { height: check.height, tip: (await node.rpc('getblockchaininfo')).tip }
}

/** The coinbase of the best-chain block at a height. */
async function coinbaseAt (node: NodeChild, height: number): Promise<Tx> {
  const { txs } = await node.rpc('getblock', [await node.rpc('getblockhash', [height])])
  if (txs === undefined) throw new Error(`the block at height ${height} is invalid`)
  return Tx.fromBytes(fromHex(await node.rpc('getrawtransaction', [txs[0]])))
}

const PASSPHRASE = 'full disk'

/** What the wallet and the mempool hold; the restart must give them back. */
interface Pending {
  mempool: string[]
  balance: { confirmed: string, unconfirmed: string, immature: string }
  history: Array<{ txid: string, category: string, amount: string }>
}

async function pendingOf (node: NodeChild): Promise<Pending> {
  const history = await node.rpc('listtransactions')
  return {
    mempool: (await node.rpc('getrawmempool')).sort(),
    balance: await node.rpc('getbalance'),
    history: history.map(({ txid, category, amount }) => ({ txid, category, amount })).sort((a, b) => a.txid.localeCompare(b.txid))
  }
}

/**
 * A wallet with mature coins, then two unconfirmed transactions: the wallet's
 * payment and one of the miner's key that the wallet has nothing to do with
 * (only mempool.dat can bring that one back). Resolves once mempool.dat holds both.
 */
async function walletAndMempool (node: NodeChild, datadir: string, miner: TestKey): Promise<Pending> {
  const { address } = await node.rpc('createwallet', [PASSPHRASE])
  await node.rpc('generate', [2, address])
  await node.rpc('generate', [regtest.coinbaseMaturity, miner.address])
  await node.rpc('walletpassphrase', [PASSPHRASE, 600])
  const paid = await node.rpc('sendtoaddress', [newKey().address, '1.5'])
  const coinbase = await coinbaseAt(node, regtest.coinbaseMaturity + 3)
  const coin = outputOf(coinbase)
  const other = spendTx({ chainTag: chainTag(regtest) }, [coin], miner, { outputs: [{ amount: coin.amount - 10_000n, address: newKey().addressHash }] })
  assert.equal(await node.rpc('sendrawtransaction', [toHex(other.bytes)]), other.idString)
  const pending = await pendingOf(node)
  assert.deepEqual(pending.mempool, [paid, other.idString].sort())
  assert.ok(pending.history.some(h => h.txid === paid && h.category === 'send'))
  // Written soon after the mempool changed, not only at stop: a sudden ENOSPC leaves no stop to write it.
  await waitFor(async () => {
    const bytes = await readFile(join(datadir, MEMPOOL_FILE)).catch(() => undefined)
    const saved = bytes === undefined ? [] : decodeMempoolFile(genesisBlock(regtest).id.bytes, bytes).map(s => Tx.fromBytes(s.bytes).idString)
    return pending.mempool.every(id => saved.includes(id))
  }, 'mempool.dat to hold both transactions', 15_000)
  return pending
}

async function assertRecovered (disk: Disk, minFreeMb: number, address: string, flushed: { height: number, tip: string }, pending: Pending): Promise<void> {
  const again = await startNode(disk, minFreeMb, address)
  assert.equal(again.child.exitCode, null, again.stderr())
  assert.equal(await again.rpc('getblockhash', [flushed.height]), flushed.tip, 'the flushed tip is on the chain again')
  const check = await again.rpc('verifychain')
  assert.equal(check.ok, true)
  assert.ok(check.height >= flushed.height)
  await waitFor(async () => (await again.rpc('getmempoolinfo')).loaded, 'the saved mempool to load')
  const now = await waitFor(async () => await pendingOf(again).catch((err: unknown) => {
    if (err instanceof RpcCallError && err.code === 'WALLET_SCANNING') return undefined
    throw err
  }), 'the wallet to catch up')
  assert.deepEqual(now, pending, 'the mempool, the wallet\'s balance and its history are back')
  // Both confirm in the next block: the wallet's unconfirmed change is then confirmed.
  await again.rpc('generate', [1])
  assert.deepEqual(await again.rpc('getrawmempool'), [])
  const balance = await again.rpc('getbalance')
  assert.equal(parseAmount(balance.confirmed), parseAmount(pending.balance.confirmed) + parseAmount(pending.balance.unconfirmed))
  assert.equal(parseAmount(balance.unconfirmed), 0n)
  await again.rpc('stop')
  assert.deepEqual(await again.exited, [0, null])
}

/**
 * A node on a tmpfs of `mb` MB with a wallet and two transactions in its
 * mempool flushes, then the disk fills up to `leaveBytes` free; `onFullDisk`
 * runs, then the node mines on (blocks without those transactions) until it
 * shuts down. `pending` is what the node held when the disk filled.
 */
async function mineOntoFullDisk (t: TestContext, mb: number, minFreeMb: number, leaveBytes: number, onFullDisk?: (node: NodeChild) => Promise<void>) {
  const disk = await tmpfs(t, mb)
  const miner = newKey()
  const node = await startNode(disk, minFreeMb, miner.address)
  await node.rpc('generate', [30])
  let pending = await walletAndMempool(node, join(disk.dir, 'node'), miner)
  const flushed = await flushedState(node)
  const filler = await fill(disk.dir, leaveBytes)
  if (onFullDisk !== undefined) {
    await onFullDisk(node)
    pending = await pendingOf(node)
  }
  assert.equal(await mineUntilExit(node, miner), 1)
  return { disk, address: miner.address, node, flushed, filler, pending, miner }
}

/** The node's exit, once it shut itself down (within a deadline). */
async function exitOf (node: NodeChild): Promise<[number | null, string | null]> {
  await waitFor(() => node.child.exitCode !== null, 'the node to shut down', 30_000)
  return await node.exited
}

/** The position of the first line of `text` matching `pattern`; fails naming it when none does. */
function lineOf (text: string, pattern: RegExp): number {
  const at = text.split('\n').findIndex(line => pattern.test(line))
  assert.ok(at >= 0, `no line matches ${String(pattern)} in:\n${text}`)
  return at
}

test('below --min-free-mb the node stops accepting blocks and shuts down with the reason, after the wallet\'s last writes and mempool.dat; it refuses to start until space is freed, then resumes with its mempool and wallet', { skip }, async t => {
  // A payment once the disk is low: the room the threshold keeps takes the wallet's writes and, at the stop, mempool.dat.
  const { disk, address, node, flushed, filler, pending } = await mineOntoFullDisk(t, 40, 16, 10 * 1024 * 1024, async low => {
    await low.rpc('sendtoaddress', [newKey().address, '2'])
  })
  assert.equal(pending.mempool.length, 3)
  const log = node.stderr()
  assert.match(log, /coints: DISK_FULL: only \d+\.\d MB free on the disk of .*, below the 16\.0 MB the node keeps free \(--min-free-mb\)/)
  assert.ok(lineOf(log, /node: shutting down: DISK_FULL/) < lineOf(log, /mempool: 3 transactions written to .*mempool\.dat/), 'mempool.dat is written as the node stops')

  const early = await startNode(disk, 16, address)
  assert.deepEqual(await early.exited, [1, null])
  assert.match(early.stderr(), /DISK_FULL/)

  await rm(filler)
  await assertRecovered(disk, 16, address, flushed, pending)
})

test('a write that fails with ENOSPC shuts the node down with the reason; after space is freed it resumes from its last flush with its mempool and wallet', { skip }, async t => {
  const { disk, address, node, flushed, filler, pending } = await mineOntoFullDisk(t, 24, 0, 0)
  assert.match(node.stderr(), /coints: DISK_FULL: .* failed: the disk is full \(.*No space left on device/)
  await rm(filler)
  await assertRecovered(disk, 0, address, flushed, pending)
})

test('a write of the wallet\'s own files that fails with ENOSPC (its history\'s LevelDB, wallet.json) shuts the node down as the chain\'s does; after space is freed it resumes with its mempool and wallet', { skip }, async t => {
  const disk = await tmpfs(t, 24)
  const miner = newKey()
  const node = await startNode(disk, 0, miner.address)
  await node.rpc('generate', [30])
  const pending = await walletAndMempool(node, join(disk.dir, 'node'), miner)
  const flushed = await flushedState(node)
  const walletAddress = await node.rpc('getnewaddress')

  // A payment to the wallet in 200 outputs: its record (6 kB) cannot fit in what the history's log has left of a page.
  let filler = await fill(disk.dir, 0)
  const coinbase = await coinbaseAt(node, regtest.coinbaseMaturity + 4)
  const coin = outputOf(coinbase)
  const to = decodeAddress(regtest.addressPrefix, walletAddress)
  const outputs = Array.from({ length: 200 }, () => ({ amount: (coin.amount - 100_000n) / 200n, address: to }))
  await node.rpc('sendrawtransaction', [toHex(spendTx({ chainTag: chainTag(regtest) }, [coin], miner, { outputs }).bytes)])
  assert.deepEqual(await exitOf(node), [1, null])
  assert.match(node.stderr(), /coints: DISK_FULL: writing the wallet history in .*wallet-history failed: the disk is full \(.*No space left on device.*\); free some space and start the node again/)
  await rm(filler)
  // The payment came when nothing could be written: the restart has what the node held before.
  const again = await startNode(disk, 0, miner.address)
  await waitFor(async () => (await again.rpc('getmempoolinfo')).loaded, 'the saved mempool to load')

  filler = await fill(disk.dir, 0)
  await again.rpc('getnewaddress').catch(() => {})
  assert.deepEqual(await exitOf(again), [1, null])
  assert.match(again.stderr(), /coints: DISK_FULL: writing .*wallet\.json failed: the disk is full/)
  await rm(filler)
  await assertRecovered(disk, 0, miner.address, flushed, pending)
})

test('the free space the chain keeps covers what the node writes as it stops (mempool.dat) on top of --min-free-mb', async t => {
  const ws = await chainWorkspace(t)
  const fs = await statfs(tmpdir())
  const free = fs.bavail * fs.bsize
  await assert.rejects(ws.open({ minFreeBytes: 1024 * 1024, reserveBytes: () => 2 * free }), (err: unknown) => {
    assert.ok(err instanceof StoreError && err.code === 'DISK_FULL', String(err))
    assert.match(err.message, /below the 1\.0 MB the node keeps free \(--min-free-mb\) and the \d+\.\d MB it writes as it stops \(mempool\.dat\)/)
    return true
  })
  const chain = await ws.open({ minFreeBytes: 1024 * 1024, reserveBytes: () => 0 })
  assert.equal(chain.height, 0)
})
