/**
 * The mempool under load. Templates: a full pool of 400 chains of 25
 * unconfirmed transactions against a full pool of 10,000 independent ones of
 * the same size and fee rates (goal: at most 2× the time), with the longest
 * the event loop was held while a template was built. Memory: a node process
 * filled through RPC past its --mempool-max-bytes with independent spends, its
 * resident memory's growth against the limit (goal: within 1.5×) and per byte
 * counted as before (serialised).
 */
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Mempool, type ConfirmedState } from '../src/chain/mempool.ts'
import { SignatureVerifier } from '../src/chain/sig-verifier.ts'
import { entryUsage } from '../src/chain/mempool-usage.ts'
import { encodeAddress } from '../src/core/address.ts'
import { fromHex, sha256, toHex } from '../src/core/hash.ts'
import { keyPairOf, randomPrivateKey, type KeyPair } from '../src/core/keys.ts'
import { cidOfDigest } from '../src/core/cbor.ts'
import type { Coin } from '../src/core/rules.ts'
import { chainTag as chainTagOf } from '../src/core/params.ts'
import { Tx } from '../src/core/tx.ts'
import { residentMemoryMb } from '../src/util/resident-memory.ts'
import { outputOf, spendTx, regtest, testChain, type Spendable, type TestChain } from '../test/helpers/chain-harness.ts'
import { fundCoins, SPEND_BYTES, spendChain } from '../test/helpers/pool.ts'
import { spawnNode } from './fixtures.ts'
import { median } from '../src/util/stats.ts'

const CHAINS = 400
const LENGTH = 25
const ROUNDS = 7
/** Fee rates from 1 to 40.9 a byte in a scrambled order, rising by 0.5 a byte along each chain. */
const rateOf = (c: number, d: number): number => 1 + ((c * 151) % CHAINS) / 10 + d / 2

export interface TemplateRun {
  /** Median of ROUNDS templates (TemplateGenerator.newTemplate), each after the pool changed. */
  templateMs: number
  /** The longest the event loop waited while one ran (median over the rounds: a collection or the scheduler adds outliers). */
  loopStallMs: number
  /** The same less the time the thread waited for a core: what the code (or a collection) held the loop. */
  loopHeldMs: number
  /** Mean time to accept one transaction while filling the pool. */
  acceptMs: number
  /** Median time to accept a newcomer into the full pool, evicting what pays least. */
  evictingAcceptMs: number
}

/** A spend of one of fundCoins' coins, for its size and its charge. */
function sampleSpend (key: KeyPair): Tx {
  return spendTx({ chainTag: chainTagOf(regtest) }, [{ txid: Tx.create({ version: 1, height: 1, inputs: [], outputs: [] }).id, index: 0, amount: 4_000_000n }], key)
}

/** Nanoseconds this thread has waited to run since it started (Linux's schedstat), or 0 where it cannot be read. */
function waitedToRunNs (): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1])
  } catch {
    return 0
  }
}

/**
 * The longest the event loop went between two turns while `work` ran, and the
 * longest it was held: a gap less the time the thread waited for a core (on a
 * loaded machine the scheduler's share of a gap can exceed the code's).
 */
async function longestStall (work: () => Promise<unknown>): Promise<{ stallMs: number, heldMs: number }> {
  let last = performance.now()
  let lastWaited = waitedToRunNs()
  let stallMs = 0
  let heldMs = 0
  let running = true
  const turn = (): void => {
    const now = performance.now()
    const waited = waitedToRunNs()
    stallMs = Math.max(stallMs, now - last)
    heldMs = Math.max(heldMs, now - last - (waited - lastWaited) / 1e6)
    last = now
    lastWaited = waited
    if (running) setImmediate(turn)
  }
  setImmediate(turn)
  await work()
  running = false
  turn()
  return { stallMs, heldMs }
}

/** A full pool of packages or of independent transactions, with a fresh coin for each round's newcomer. */
interface FullPool { chain: TestChain, dir: string, key: KeyPair, newcomers: Tx[], acceptMs: number }

async function fullPool (packages: boolean): Promise<FullPool> {
  const dir = await mkdtemp(join(tmpdir(), 'coints-bench-mempool-'))
  const clock = { now: regtest.genesisTime }
  const key = keyPairOf(randomPrivateKey())
  const count = CHAINS * LENGTH
  const chain = testChain({ params: regtest, dbPath: join(dir, 'chain'), now: () => clock.now, mempoolMaxBytes: count * entryUsage(sampleSpend(key)) })
  await chain.start()
  const coins = await fundCoins(chain, clock, key, (packages ? CHAINS : count) + ROUNDS)
  const txs = packages
    ? coins.slice(0, CHAINS).flatMap((coin, c) => spendChain(chain, key, coin, LENGTH, d => rateOf(c, d)))
    : coins.slice(0, count).map((coin, n) => spendTx(chain, [coin], key, { fee: BigInt(Math.round(rateOf(Math.floor(n / LENGTH), n % LENGTH) * SPEND_BYTES)) }))
  if (!txs.every(tx => tx.bytes.length === SPEND_BYTES)) throw new Error('the pools must hold transactions of one size')
  const started = performance.now()
  for (const tx of txs) await chain.acceptTx(tx)
  const acceptMs = (performance.now() - started) / txs.length
  if (chain.mempool.usage !== chain.mempool.maxBytes) throw new Error('the pool must be full')
  const newcomers = coins.slice(-ROUNDS).map((coin: Spendable) => spendTx(chain, [coin], key, { fee: 100n * BigInt(SPEND_BYTES) }))
  return { chain, dir, key, newcomers, acceptMs }
}

/** One round on a pool: a newcomer evicts what pays least, then a template is built. */
async function templateRound (pool: FullPool, round: number): Promise<{ evictingAcceptMs: number, templateMs: number, loopStallMs: number, loopHeldMs: number }> {
  let started = performance.now()
  await pool.chain.acceptTx(pool.newcomers[round])
  const evictingAcceptMs = performance.now() - started
  started = performance.now()
  const { stallMs, heldMs } = await longestStall(async () => await pool.chain.templates.newTemplate(pool.key.addressHash))
  return { evictingAcceptMs, templateMs: performance.now() - started, loopStallMs: stallMs, loopHeldMs: heldMs }
}

/** Both pools side by side, their rounds alternated: the machine's drift falls on both. */
async function templateRuns (): Promise<{ packages: TemplateRun, independent: TemplateRun, templateRatio: number }> {
  const pools = [await fullPool(true), await fullPool(false)]
  try {
    const rounds = pools.map(() => [] as Array<Awaited<ReturnType<typeof templateRound>>>)
    const ratios: number[] = []
    for (let r = 0; r < ROUNDS; r++) {
      for (let p = 0; p < pools.length; p++) rounds[p].push(await templateRound(pools[p], r))
      ratios.push(rounds[0][r].templateMs / rounds[1][r].templateMs)
    }
    const [packages, independent] = pools.map((pool, p): TemplateRun => ({
      templateMs: median(rounds[p].map(x => x.templateMs)),
      loopStallMs: median(rounds[p].map(x => x.loopStallMs)),
      loopHeldMs: median(rounds[p].map(x => x.loopHeldMs)),
      acceptMs: pool.acceptMs,
      evictingAcceptMs: median(rounds[p].map(x => x.evictingAcceptMs))
    }))
    return { packages, independent, templateRatio: median(ratios) }
  } finally {
    for (const pool of pools) {
      await pool.chain.stop()
      await rm(pool.dir, { recursive: true, force: true })
    }
  }
}

export interface LiveRun {
  limitMb: number
  txs: number
  /** Heap and external memory the filled pool added, after full collections. */
  liveGrowthMb: number
  /** Against the limit: how close the estimate is to what entries cost. */
  growthPerLimit: number
}

/**
 * The estimate against what the entries cost: a pool alone in this process
 * (its coins in a map, its signatures verified on the workers) filled with
 * `overfill` times what fits (evicting), heap and external memory measured
 * after full collections (V8's gc, exposed at run time).
 */
async function liveRun (limitMb: number, overfill: number): Promise<LiveRun> {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const key = keyPairOf(randomPrivateKey())
  const chainTag = chainTagOf(regtest)
  const count = Math.ceil(limitMb * 1_000_000 / entryUsage(sampleSpend(key)) * overfill)
  const coins = new Map<string, Coin>()
  // As hex, which stays: the bytes each accept decodes are the pool's alone, as a node's from RPC.
  const hexes: string[] = []
  for (let n = 0; n < count; n++) {
    const tx = spendTx({ chainTag }, [{ txid: cidOfDigest(sha256(Uint8Array.of(n >> 16, n >> 8, n))), index: 0, amount: 4_000_000n }], key, { fee: BigInt((2 + (n * 37) % 59) * SPEND_BYTES) })
    // Keyed as the pool asks (a CID's own toString makes a rope of 48 pieces, which the first lookup would flatten inside the measure).
    coins.set(tx.inputKeys()[0], { amount: 4_000_000n, address: key.addressHash, height: 1, coinbase: false })
    hexes.push(toHex(tx.bytes))
  }
  const verifier = new SignatureVerifier({ threads: 2 })
  const pool = new Mempool({ params: regtest, chainTag, verifier }, { maxBytes: limitMb * 1_000_000 })
  // The chain's side of an accept: its coins, and a tip at height 100.
  const confirmed: ConfirmedState = {
    getCoins: async keys => new Map(keys.flatMap(k => { const coin = coins.get(k); return coin === undefined ? [] : [[k, coin] as const] })),
    height: 100
  }
  const live = (): number => {
    gc()
    gc()
    const m = process.memoryUsage()
    return m.heapUsed + m.external
  }
  try {
    const before = live()
    for (const hex of hexes) await pool.accept(Tx.fromBytes(fromHex(hex)), confirmed, 0).catch(() => {})
    const liveGrowthMb = (live() - before) / 1e6
    // Read after the measure, so the hex strings stayed alive through it.
    if (hexes.length !== count) throw new Error('the hex strings went away')
    return { limitMb, txs: pool.size, liveGrowthMb, growthPerLimit: liveGrowthMb / limitMb }
  } finally {
    await verifier.stop()
  }
}

export interface MemoryRun {
  limitMb: number
  /** Serialised bytes in the pool, the old count. */
  countedMb: number
  usageMb: number
  txs: number
  rssGrowthMb: number
  /** Resident growth against the limit: the goal is at most 1.5. */
  growthPerLimit: number
  /** The highest resident growth seen while it was filled (read every 100 ms), against the limit. */
  peakPerLimit: number
  /** Resident growth per serialised byte (66 MB for 4.5 MB before the limit counted memory). */
  growthPerCountedByte: number
}

/** A node with `limitMb` of mempool, filled through RPC with `overfill` times what fits. */
async function memoryRun (limitMb: number, overfill: number): Promise<MemoryRun> {
  const datadir = await mkdtemp(join(tmpdir(), 'coints-bench-mempool-rss-'))
  const { host: node } = await spawnNode(datadir, ['--mempool-max-bytes', String(limitMb * 1_000_000)])
  try {
    const key = keyPairOf(randomPrivateKey())
    const address = encodeAddress(regtest.addressPrefix, key.addressHash)
    const chainTag = { chainTag: chainTagOf(regtest) }
    const perEntry = entryUsage(sampleSpend(key))
    const count = Math.ceil(limitMb * 1_000_000 / perEntry * overfill)
    // Coinbases of 50 split 250 ways: 0.2 coin each (amounts below 2^32, so all spends are one size).
    const fans = Math.ceil(count / 250)
    const ids = await node.rpc('generate', [fans + regtest.coinbaseMaturity, address])
    const coins: Spendable[] = []
    for (const id of ids.slice(0, fans)) {
      const block = await node.rpc('getblock', [id])
      if (block.status === 'invalid') throw new Error(`block ${id} is invalid`)
      const coinbase = Tx.fromBytes(Buffer.from(await node.rpc('getrawtransaction', [block.txs[0]]), 'hex'))
      const fan = spendTx(chainTag, [outputOf(coinbase)], key, { outputs: Array.from({ length: 250 }, () => ({ amount: 19_990_000n, address: key.addressHash })) })
      await node.rpc('sendrawtransaction', [toHex(fan.bytes)])
      for (let n = 0; n < 250; n++) coins.push(outputOf(fan, n))
    }
    while ((await node.rpc('getmempoolinfo')).size > 0) await node.rpc('generate', [1, address])
    // Fee rates of 2 to 60 a byte in a scrambled order: once full, newcomers evict the cheapest.
    const hexes = coins.slice(0, count).map((coin, n) => toHex(spendTx(chainTag, [coin], key, { fee: BigInt((2 + (n * 37) % 59) * SPEND_BYTES) }).bytes))
    await new Promise(resolve => setTimeout(resolve, 2_000))
    const before = await residentMemoryMb(node.pid as number) ?? NaN
    let next = 0
    const sender = async (): Promise<void> => {
      while (next < hexes.length) await node.rpc('sendrawtransaction', [hexes[next++]]).catch(() => {})
    }
    let peak = before
    const sampler = setInterval(() => { void residentMemoryMb(node.pid as number).then(mb => { peak = Math.max(peak, mb ?? peak) }) }, 100)
    await Promise.all([sender(), sender(), sender(), sender()]).finally(() => { clearInterval(sampler) })
    await new Promise(resolve => setTimeout(resolve, 2_000))
    const after = await residentMemoryMb(node.pid as number) ?? NaN
    const info = await node.rpc('getmempoolinfo')
    const rssGrowthMb = after - before
    return {
      limitMb,
      countedMb: info.bytes / 1e6,
      usageMb: info.usage / 1e6,
      txs: info.size,
      rssGrowthMb,
      growthPerLimit: rssGrowthMb / limitMb,
      peakPerLimit: (peak - before) / limitMb,
      growthPerCountedByte: rssGrowthMb * 1e6 / info.bytes
    }
  } finally {
    await node.stop()
    await rm(datadir, { recursive: true, force: true })
  }
}

export interface MempoolBench {
  packages: TemplateRun
  independent: TemplateRun
  /** Template time with packages against independent transactions, median of the rounds' ratios: the goal is at most 2. */
  templateRatio: number
  /** What the entries cost against the limit, with half as much again evicted. */
  live: LiveRun
  /** A node's resident memory, filled to its limit, then past it by half (evicting). */
  full: MemoryRun
  churned: MemoryRun
}

export async function benchMempool (): Promise<MempoolBench> {
  const templates = await templateRuns()
  const live = await liveRun(64, 1.5)
  const full = await memoryRun(64, 1)
  const churned = await memoryRun(64, 1.5)
  return { ...templates, live, full, churned }
}

/** `node bench/mempool.ts [templates|live|memory]`: all of it, or one part (to alternate it with other code). */
const parts: Record<string, () => Promise<unknown>> = {
  templates: templateRuns,
  live: async () => await liveRun(64, 1.5),
  memory: async () => ({ full: await memoryRun(64, 1), churned: await memoryRun(64, 1.5) })
}
if (import.meta.main) console.log(JSON.stringify(await (parts[process.argv[2]] ?? benchMempool)(), null, 2))
