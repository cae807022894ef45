/**
 * Test harness of the chain service: chains on fresh temp dirs with a clock the
 * test moves, blocks mined on the calling thread (miner/solve.ts), side-branch
 * builders and signed spends.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import type { Chain } from '../../src/chain/chain.ts'
import { Mempool } from '../../src/chain/mempool.ts'
import { ChainStore, type ChainStoreInit, type StateWrite } from '../../src/chain/store.ts'
import { buildChain, type BuildChainComponents, type ChainOptions, type ChainParts } from '../../src/node/build-chain.ts'
import type { ChainReader, ChainWriter, MempoolView } from '../../src/chain/ports.ts'
import type { BlockEntry } from '../../src/chain/types.ts'
import type { Logger } from '../../src/log.ts'
import { type Block, BLOCK_VERSION, encodeTxList, NONCE_BYTES } from '../../src/core/block.ts'
import { cidOf, type CID } from '../../src/core/cbor.ts'
import { keyPairOf, randomPrivateKey, SIGNATURE_BYTES, type KeyPair } from '../../src/core/keys.ts'
import { getNetwork, subsidyAt, type NetworkParams } from '../../src/core/params.ts'
import { medianTime } from '../../src/core/rules.ts'
import { OutPoint } from '../../src/core/outpoint.ts'
import { signTransaction, Tx, TX_VERSION, type TxOutput } from '../../src/core/tx.ts'
import { TemplateGenerator } from '../../src/miner/block-template.ts'
import { solveBlock } from '../../src/miner/solve.ts'
import { unixSeconds } from '../../src/util/clock.ts'

export const regtest = getNetwork('regtest')

/**
 * A chain as tests build it: as the node does (buildChain), with the parts it
 * is built of at hand (tests look into its store and its mempool) and
 * templates on its clock.
 */
export type TestChain = Chain & Readonly<Omit<ChainParts, 'chain' | 'mempool'>> & { readonly mempool: Mempool, readonly templates: TemplateGenerator }

/** A chain built as the node builds one (on the system clock unless given one), with its parts and templates at hand; not started. */
export function testChain (options: ChainOptions, components: BuildChainComponents = {}): TestChain {
  const { chain, mempool, ...parts } = buildChain(options, components)
  // The node sees the mempool through its view; tests of the pool look into the pool itself, which the view is.
  assert.ok(mempool instanceof Mempool)
  return Object.assign(chain, parts, { mempool, templates: new TemplateGenerator({ chain, now: options.now ?? unixSeconds }) })
}

/** Seconds; every chain of a workspace reads it, tests move it. */
export interface TestClock { now: number }

export interface OpenOptions extends Partial<Omit<ChainOptions, 'dbPath' | 'now'>> {
  /** Subdirectory of the workspace holding this chain's database (default "node"). */
  name?: string
  /** Runs between construction and start (to listen to or instrument what start does). */
  beforeStart?: (chain: TestChain) => void
  logger?: Logger
  /** Makes the chain's store: a test's own, to watch or fail its writes. */
  store?: (path: string, init: ChainStoreInit) => ChainStore
}

export interface ChainWorkspace {
  dir: string
  clock: TestClock
  dbPath: (name?: string) => string
  /** Starts a chain on `name`'s database; stopped (with the dir removed) after the test. */
  open: (opts?: OpenOptions) => Promise<TestChain>
  /** A service over the workspace's chains (a wallet): stopped after the test, before the chains. */
  stopAfter: (service: { stop: () => Promise<void> }) => void
}

/**
 * A temp dir and a clock for one test. One after-hook stops the services handed
 * to stopAfter and every chain opened here, then removes the dir, whatever order
 * node:test runs hooks in.
 */
export async function chainWorkspace (t: Pick<TestContext, 'after'> | { after: (fn: () => Promise<void>) => void }): Promise<ChainWorkspace> {
  const dir = await mkdtemp(join(tmpdir(), 'coints-chain-test-'))
  const clock: TestClock = { now: Math.max(Math.floor(Date.now() / 1000), regtest.genesisTime + 1) }
  const chains: TestChain[] = []
  const services: Array<{ stop: () => Promise<void> }> = []
  t.after(async () => {
    for (const service of services) await service.stop()
    for (const chain of chains) await chain.stop()
    await rm(dir, { recursive: true, force: true })
  })
  const dbPath = (name = 'node'): string => join(dir, name)
  return {
    dir,
    clock,
    dbPath,
    async open (opts = {}) {
      const { name, beforeStart, logger, store, ...init } = opts
      const chain = testChain({ params: regtest, verifierThreads: 1, ...init, dbPath: dbPath(name), now: () => clock.now }, { logger, store })
      chains.push(chain)
      beforeStart?.(chain)
      await chain.start()
      return chain
    },
    stopAfter (service) { services.push(service) }
  }
}

/** Calls to the chain's store a test sees first, each with its arguments: it counts them, or throws to fail the call as a crash there would. */
export interface StoreWatch {
  writeState?: (write: StateWrite) => void
  putBlock?: (...args: Parameters<ChainStore['putBlock']>) => void
  getBlock?: (...args: Parameters<ChainStore['getBlock']>) => void
}

/**
 * A store for OpenOptions.store whose calls `watch` sees first (the store's
 * own calls to itself too): the chain is built on it, so no test patches a
 * method of a live store.
 */
export function watchedStore (watch: StoreWatch): NonNullable<OpenOptions['store']> {
  return (path, init) => new (class extends ChainStore {
    override async writeState (write: StateWrite): Promise<void> {
      watch.writeState?.(write)
      await super.writeState(write)
    }

    override async putBlock (...args: Parameters<ChainStore['putBlock']>): Promise<void> {
      watch.putBlock?.(...args)
      await super.putBlock(...args)
    }

    override async getBlock (...args: Parameters<ChainStore['getBlock']>): ReturnType<ChainStore['getBlock']> {
      watch.getBlock?.(...args)
      return await super.getBlock(...args)
    }
  })(path, init)
}

/** A store whose UTXO writes `watch` sees first: a test records them, or throws to fail the write. */
export function watchWrites (watch: (write: StateWrite) => void): NonNullable<OpenOptions['store']> {
  return watchedStore({ writeState: watch })
}

/** A started regtest chain on a fresh temp dir with its workspace. */
export async function openChain (t: TestContext, opts: OpenOptions = {}): Promise<{ chain: TestChain, ws: ChainWorkspace }> {
  const ws = await chainWorkspace(t)
  return { chain: await ws.open(opts), ws }
}

export function newKey (): KeyPair {
  return keyPairOf(randomPrivateKey())
}

/** What the harness mines and funds through: a TestChain, or a node's chain with its mempool and templates (node-harness's miningChain). */
export type MiningChain = Pick<ChainReader, 'params' | 'chainTag'> & Pick<ChainWriter, 'processBlock' | 'acceptTx'> & {
  readonly mempool: Pick<MempoolView, 'size'>
  readonly templates: Pick<TemplateGenerator, 'newTemplate'>
}

/** A block on the chain's tip from its own template (coinbase to `address`, mempool transactions). */
export async function mineOn (chain: MiningChain, address: Uint8Array): Promise<Block> {
  return solveBlock(await chain.templates.newTemplate(address))
}

/** Mines `count` blocks on the tip, each one processed and connected; the clock moves a block time each. */
export async function mineBlocks (chain: MiningChain, clock: TestClock, count: number, address: Uint8Array): Promise<Block[]> {
  const blocks: Block[] = []
  for (let i = 0; i < count; i++) {
    clock.now += chain.params.targetBlockTime
    const block = await mineOn(chain, address)
    const result = await chain.processBlock(block)
    if (result.status !== 'connected') throw new Error(`mined block ${block.height} was ${result.status}`)
    blocks.push(block)
  }
  return blocks
}

export interface BranchBlockOptions {
  address?: Uint8Array
  /** Transactions after the coinbase. */
  txs?: Tx[]
  /** Coinbase outputs (default: the subsidy to `address`). */
  coinbaseOutputs?: TxOutput[]
  time?: number
  bits?: number
  height?: number
}

/**
 * Builds a branch on any parent without the chain's template: header fields are
 * set here (height, prev, bits, time above the median time past), so a test can
 * make side branches, orphans and blocks that break one context rule.
 */
export class BranchBuilder {
  readonly params: NetworkParams
  /** The last block built (first: the parent). */
  tip: { id: CID, height: number, time: number }
  /** Times of the tip and its ancestors, newest first, medianTimeSpan at most. */
  #times: number[]

  constructor (params: NetworkParams, tip: { id: CID, height: number, time: number }, times: number[]) {
    this.params = params
    this.tip = tip
    this.#times = times.slice(0, params.medianTimeSpan)
  }

  /** A builder on a block the chain holds (any branch). */
  static on (chain: Chain, parent: BlockEntry): BranchBuilder {
    const times: number[] = []
    for (let e: BlockEntry | undefined = parent; e !== undefined && times.length < chain.params.medianTimeSpan; e = e.prev === null ? undefined : chain.getEntry(e.prev)) {
      times.push(e.time)
    }
    return new BranchBuilder(chain.params, parent, times)
  }

  get medianTimePast (): number {
    return medianTime(this.#times)
  }

  /** The next block of the branch; the builder moves onto it. */
  next (opts: BranchBlockOptions = {}): Block {
    const height = opts.height ?? this.tip.height + 1
    const address = opts.address ?? new Uint8Array(20).fill(0xbb)
    const coinbase = Tx.create({
      version: TX_VERSION,
      height,
      inputs: [],
      outputs: opts.coinbaseOutputs ?? [{ amount: subsidyAt(this.params, height), address }]
    })
    const txs = [coinbase, ...opts.txs ?? []]
    const block = solveBlock({
      header: {
        version: BLOCK_VERSION,
        height,
        prev: this.tip.id,
        txs: cidOf(encodeTxList(txs)),
        time: opts.time ?? Math.max(this.medianTimePast, this.tip.time) + 1,
        bits: opts.bits ?? this.params.powLimitBits,
        nonce: new Uint8Array(NONCE_BYTES)
      },
      txs
    })
    this.tip = { id: block.id, height: block.height, time: block.header.data.time }
    this.#times = [block.header.data.time, ...this.#times].slice(0, this.params.medianTimeSpan)
    return block
  }

  /** `count` coinbase-only blocks. */
  extend (count: number, opts: BranchBlockOptions = {}): Block[] {
    return Array.from({ length: count }, () => this.next(opts))
  }
}

/** One block on `parent` (any branch the chain holds). */
export function mineBlockOn (chain: Chain, parent: BlockEntry, opts: BranchBlockOptions = {}): Block {
  return BranchBuilder.on(chain, parent).next(opts)
}

/** An output to spend. */
export interface Spendable { txid: CID, index: number, amount: bigint }

export function outputOf (tx: Tx, index = 0): Spendable {
  return { txid: tx.id, index, amount: tx.data.outputs[index].amount }
}

export interface SpendOptions {
  /** Outputs; default one output of the inputs' total minus `fee` back to the key. */
  outputs?: TxOutput[]
  fee?: bigint
}

/** A transaction spending `coins` of `key`, signed for the chain's network. */
export function spendTx (chain: { chainTag: Uint8Array }, coins: Spendable[], key: KeyPair, opts: SpendOptions = {}): Tx {
  const total = coins.reduce((s, c) => s + c.amount, 0n)
  const outputs = opts.outputs ?? [{ amount: total - (opts.fee ?? 10_000n), address: key.addressHash }]
  return signTransaction({
    version: TX_VERSION,
    inputs: coins.map(c => ({ prev: OutPoint.of(c.txid, c.index), pubkey: key.publicKey, sig: new Uint8Array(SIGNATURE_BYTES) })),
    outputs
  }, coins.map(() => key.privateKey), chain.chainTag)
}

/** Bytes of every key and value in a chain's database (blocks, index, UTXO set, undo data, meta). */
export async function storedBytes (store: ChainStore): Promise<number> {
  let bytes = 0
  for await (const [key, value] of store.db.iterator({ keyEncoding: 'view', valueEncoding: 'view' })) bytes += key.length + value.length
  return bytes
}

/**
 * Well-formed, signed transactions spending coins that do not exist (what an
 * attacker fills a side block with: only connecting would show them wrong),
 * each with `outputs` outputs: about 30 bytes an output.
 */
export function phantomSpends (chain: { chainTag: Uint8Array }, count: number, outputs: number): Tx[] {
  const key = newKey()
  return Array.from({ length: count }, () => spendTx(chain, [{ txid: cidOf(randomBytes(32)), index: 0, amount: 50n * 100_000_000n }], key, {
    outputs: Array.from({ length: outputs }, () => ({ amount: 1_000n, address: key.addressHash }))
  }))
}
