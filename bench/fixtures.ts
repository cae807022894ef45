import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { blockstoreKeyOfDigest } from '../src/chain/records.ts'
import type { Block } from '../src/core/block.ts'
import { COIN } from '../src/core/amount.ts'
import type { CID } from '../src/core/cbor.ts'
import { OutPoint } from '../src/core/outpoint.ts'
import { signTransaction, TX_VERSION } from '../src/core/tx.ts'
import { keyPairOf, randomPrivateKey } from '../src/core/keys.ts'
import { getNetwork } from '../src/core/params.ts'
import { solveBlock } from '../src/miner/solve.ts'
import { LoopbackHost, waitForRpc } from '../src/swarm/hosts.ts'
import { Wallet } from '../src/wallet/wallet.ts'
import { createLogger } from '../src/log.ts'
import { buildChain } from '../src/node/build-chain.ts'
import { testChain } from '../test/helpers/chain-harness.ts'

export const regtest = getNetwork('regtest')

export const WALLET_PASSPHRASE = 'bench passphrase'

export interface ChainDatadirOptions {
  /**
   * A wallet in the datadir (passphrase WALLET_PASSPHRASE, made before the
   * first block) that every `walletEvery`-th block's coinbase pays, at a new
   * address each time as a miner's; its history follows the blocks, as a node's would.
   */
  walletEvery?: number
}

/** A node datadir on regtest whose chain holds `blocks` blocks (coinbase only); returns the blocks too. */
export async function chainDatadir (blocks: number, opts: ChainDatadirOptions = {}): Promise<{ datadir: string, blocks: Block[] }> {
  const datadir = await mkdtemp(join(tmpdir(), `coints-bench-${blocks}-`))
  let t = Math.floor(Date.now() / 1000) - blocks
  const chain = testChain({ params: regtest, dbPath: join(datadir, 'chain'), now: () => t })
  await chain.start()
  const address = keyPairOf(randomPrivateKey()).addressHash
  const wallet = opts.walletEvery === undefined ? undefined : new Wallet({ chain, mempool: chain.mempool, logger: createLogger('wallet') }, { datadir, params: regtest, defaultFeeRate: 1, kdf: { N: 1 << 10, r: 8, p: 1 } })
  await wallet?.create(WALLET_PASSPHRASE)
  const mined: Block[] = []
  for (let i = 0; i < blocks; i++) {
    t += 1
    const payee = wallet !== undefined && (i + 1) % (opts.walletEvery as number) === 0 ? (await wallet.newAddress()).hash : address
    const block = solveBlock(await chain.templates.newTemplate(payee))
    await chain.processBlock(block)
    mined.push(block)
  }
  await wallet?.stop()
  await chain.stop()
  return { datadir, blocks: mined }
}

/** Ms for a fresh chain in a new directory (pushed to `dirs`) to take `blocks` from their wire bytes: the local import the sync and CAR figures compare with. */
export async function localImportMs (blocks: Block[], dirs: string[]): Promise<number> {
  const wire = blocks.map(b => b.encode())
  const dir = await mkdtemp(join(tmpdir(), 'coints-bench-local-'))
  dirs.push(dir)
  const { chain } = buildChain({ params: regtest, dbPath: join(dir, 'chain'), verifierThreads: 1 })
  await chain.start()
  const start = performance.now()
  for (const bytes of wire) await chain.processBlock(chain.decodeBlock(bytes))
  const ms = performance.now() - start
  await chain.stop()
  return ms
}

/**
 * A regtest datadir whose last blocks are full (about 1 MB each, of 2,000-output
 * transactions), `bytes` of them at least: what a full blocks reply is made of.
 * Returns the ids of those blocks.
 */
export async function fullBlocksDatadir (bytes: number): Promise<{ datadir: string, ids: CID[] }> {
  const datadir = await mkdtemp(join(tmpdir(), 'coints-bench-full-'))
  let t = Math.floor(Date.now() / 1000) - 1_000
  const chain = testChain({ params: regtest, dbPath: join(datadir, 'chain'), now: () => t })
  await chain.start()
  const key = keyPairOf(randomPrivateKey())
  const mine = async (): Promise<Block> => {
    t += 1
    const block = solveBlock(await chain.templates.newTemplate(key.addressHash))
    await chain.processBlock(block)
    return block
  }
  // A 2,000-output transaction is about 60 kB: a coinbase each, matured.
  const fanouts = Math.ceil(bytes / 55_000)
  const coinbases: Block[] = []
  for (let i = 0; i < fanouts + regtest.coinbaseMaturity; i++) coinbases.push(await mine())
  for (const block of coinbases.slice(0, fanouts)) {
    const coinbase = block.txs[0]
    const each = (coinbase.data.outputs[0].amount - COIN) / 2_000n
    await chain.acceptTx(signTransaction({
      version: TX_VERSION,
      inputs: [{ prev: OutPoint.of(coinbase.id, 0), pubkey: key.publicKey, sig: new Uint8Array(64) }],
      outputs: Array.from({ length: 2_000 }, () => ({ amount: each, address: key.addressHash }))
    }, [key.privateKey], chain.chainTag))
  }
  const ids: CID[] = []
  let size = 0
  while (chain.mempool.size > 0) {
    const block = await mine()
    ids.push(block.id)
    size += block.encode().length
  }
  await chain.stop()
  if (size < bytes) throw new Error(`full blocks fixture holds ${size} bytes, wanted ${bytes}`)
  return { datadir, ids }
}

/**
 * Rewrites a stopped chain's database in the layout of coints 0.1.0, as a
 * datadir made by it holds its blocks: every object of the blockstore (sublevel
 * b) and every invalid block's header (x) at the root under its blockstore-level
 * key, and no layout record. Returns what it moved (key → bytes).
 */
export async function toOldLayout (dbPath: string): Promise<{ blocks: Map<string, Uint8Array>, invalid: Map<string, Uint8Array> }> {
  const db = new Level<string, Uint8Array>(dbPath, { keyEncoding: 'utf8', valueEncoding: 'view' })
  try {
    const b = db.sublevel<string, Uint8Array>('b', { keyEncoding: 'utf8', valueEncoding: 'view' })
    const x = db.sublevel<Uint8Array, Uint8Array>('x', { keyEncoding: 'view', valueEncoding: 'view' })
    const blocks = new Map(await b.iterator().all())
    const invalid = new Map((await x.iterator().all()).map(([digest, header]) => [blockstoreKeyOfDigest(digest), header]))
    const batch = db.batch()
    for (const [key, value] of [...blocks, ...invalid]) batch.put(key, value)
    batch.del('layout', { sublevel: db.sublevel('m') })
    await batch.write()
    await b.clear()
    await x.clear()
    return { blocks, invalid }
  } finally {
    await db.close()
  }
}

/**
 * A regtest node process on `datadir`, spawned as the swarm spawns its loopback
 * nodes (the runtime flags users get, then `args`); resolves once its RPC
 * answers, with the ms from spawn until then.
 */
export async function spawnNode (datadir: string, args: string[] = []): Promise<{ host: LoopbackHost, readyMs: number }> {
  const host = new LoopbackHost(0, datadir)
  const start = performance.now()
  await host.start(args)
  try {
    await waitForRpc(host, 60_000, 5)
  } catch (err) {
    await host.stop()
    throw err
  }
  return { host, readyMs: performance.now() - start }
}
