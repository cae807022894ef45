/**
 * `coints swarm`: runs N node processes on this machine (on loopback, or each in
 * its own network namespace on a bridged LAN), mines and sends transactions
 * among them, applies faults (partition and heal, crash and restart, late
 * joiners, skewed clocks) from named scenarios or a timeline, and reports
 * propagation, reorganisations and convergence.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { residentMemoryMb } from '../util/resident-memory.ts'
import { percentile } from '../util/stats.ts'
import { waitFor } from '../util/wait-for.ts'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { getNetwork } from '../core/params.ts'
import { LanHost, LoopbackHost, NodeGroupProcess, SharedHost, waitForRpc, type NodeHost } from './hosts.ts'
import { isLanSupported, Lan, sweepStaleLans } from './netns.ts'
import { NAT_KINDS, NatZoo, STUN_IPS, type NatKind, type ZooSpec } from './nat-zoo.ts'
import { processCpuSeconds } from './process-cpu.ts'
import { SeededRandom } from './random.ts'
import { addedNodes, type TimelineEvent } from './timeline.ts'

export const SCENARIOS = ['steady', 'partition', 'crash', 'late'] as const
export type Scenario = typeof SCENARIOS[number]

export interface SwarmOptions {
  nodes: number
  miners: number
  mode: 'loopback' | 'lan' | 'nat'
  scenarios: Scenario[]
  /** Events at seconds after mining begins, run instead of `scenarios` (--scenario-file). */
  timeline?: TimelineEvent[]
  /** Seconds each scenario phase runs. */
  phaseSeconds: number
  /** Milliseconds between blocks (a miner is picked in turn). */
  blockIntervalMs: number
  /** Wallet-to-wallet sends per second (0: none). */
  txRate: number
  /** Nodes added late (scenario "late"). */
  lateNodes: number
  /** Flags every node runs with (default SWARM_NODE_SETTINGS; a benchmark passes [] for the defaults). */
  nodeSettings?: readonly string[]
  /** Loopback nodes sharing a process (default defaultNodesPerProcess); lan and nat nodes each have their own. */
  nodesPerProcess?: number
  /** Makes every choice (who mines, who is paid, who crashes, which groups) the same from run to run. */
  seed: number
  /** Progress: `lasting` lines (a scenario starting or done) stay; the others replace each other. */
  onProgress?: (line: string, lasting?: boolean) => void
}

/** Of the pairs of hosts, by the kinds of their ends (public, or their router's NAT). */
export interface PairCounts { direct: number, relayed: number, unconnected: number }

export interface NatReport {
  pairs: Record<string, PairCounts>
  /** From the swarm's start to the earliest direct connection still open between two hosts behind routers. */
  firstDirectMs: number | null
  /** Bytes carried end to end over relayed connections, and over direct ones (relays' own hops excluded). */
  relayedBytes: number
  directBytes: number
}

export interface Percentiles { count: number, p50: number | null, p95: number | null, p99: number | null }

export interface SwarmReport {
  mode: string
  /** Nodes started at the beginning (--nodes). */
  nodes: number
  /** Nodes the late scenario added. */
  late: number
  /** Nodes running at the end. */
  running: number
  miners: number
  scenarios: Scenario[] | ['timeline']
  seed: number
  /** The seeded choices: each fault's, then the miner of each block in order (the first 500). */
  choices: { faults: string[], miners: number[] }
  /** The node flags the swarm chose so that many nodes fit on one machine. */
  nodeSettings: string[]
  /** At most this many nodes shared a process (1: a process each). */
  nodesPerProcess: number
  /** Node processes the nodes were placed in (a restarted node's own process counted once). */
  processes: number
  timeToPeersMs: number | null
  /** The slowest node's time from its own start to its first peer (late nodes too); null if one never had one. */
  slowestPeerAfterStartMs: number | null
  /** Every block mined, the first ones (to mature coins) and those of a partition included. */
  blocks: number
  transactions: number
  blockPropagationMs: Percentiles
  txPropagationMs: Percentiles
  orphans: number
  reorgs: number
  maxReorgDepth: number
  convergeAfterHealMs: number | null
  tips: number
  height: number
  utxoSummaries: number
  converged: boolean
  /** Resident memory of the node processes at the end, summed and divided by the nodes they hosted then, MB (Linux). */
  rssPerNodeMb: number | null
  /** --mode nat only. */
  nat?: NatReport
  /**
   * CPU seconds (every thread) a node used a minute once mining began: the node processes that ran
   * throughout, summed and divided by the nodes they hosted at the end (Linux).
   */
  cpuSecondsPerNodeMinute: number | null
  /** CPU seconds a node used from its start until mining began (start-up, peering, the first blocks): the processes' sum over their nodes. */
  startCpuSecondsPerNode: number | null
  /** CPU seconds the swarm process itself used (its RPC polling), per minute. */
  swarmCpuSecondsPerMinute: number
  errors: string[]
}

/** Router kinds of a NAT swarm, in turn: most home routers are port-restricted cones, some offer UPnP, few are symmetric. */
const ROUTER_TURNS: readonly NatKind[] = ['port-restricted', 'upnp', 'port-restricted', 'symmetric']

/** Two public hosts (the first the seed, both relays), then a router with one host for each other node. */
export function natSwarmSpec (total: number): ZooSpec {
  const publicHosts = Math.min(2, Math.max(1, total - 1))
  return { publicHosts, routers: Array.from({ length: total - publicHosts }, (_, i) => ({ name: String(i), kind: ROUTER_TURNS[i % ROUTER_TURNS.length], hosts: 1 })) }
}

/** One look at every node, `t` ms after the nodes started; null for a node not running. */
export interface SwarmSample { t: number, nodes: Array<{ height: number, peers: number, reorgs: number } | null> }

/** What `--report FILE.html` draws: the report, the samples, the faults on the timeline and each propagation delay. */
export interface SwarmRecord {
  report: SwarmReport
  samples: SwarmSample[]
  events: Array<{ t: number, do: string, label: string }>
  blockDelaysMs: number[]
  txDelaysMs: number[]
}

const regtest = getNetwork('regtest')

/**
 * Settings that fit many nodes on one machine, the protocol unchanged:
 * signatures verified on the main thread (a swarm's blocks hold few; a worker
 * is a V8 isolate of its own, some 20 MB), Bitcoin Core's smallest database
 * cache (LevelDB's block cache 1 MiB, write buffers 0.5 MiB, some 4,900
 * coins: a swarm's UTXO set is small) and a small mempool bound.
 */
export const SWARM_NODE_SETTINGS: readonly string[] = ['--verifier-threads', '0', '--dbcache', '4', '--mempool-max-bytes', '4000000']

/**
 * Loopback nodes a process for a swarm of `total`: up to 8, a process each (a
 * SIGKILL is a real crash); beyond, 16 a process, as Node, V8 and the modules,
 * loaded once a process, cost a node as much as its chain does (32 nodes: 16 a
 * process had every node peered 4.0 s after the start against 5.2-6.4 s at 8,
 * p99 294 against 203-277 ms, docs/performance.md).
 */
export function defaultNodesPerProcess (total: number): number {
  return total <= 8 ? 1 : 16
}

/**
 * Which process each of `total` loopback nodes runs in (-1: its own): `alone`
 * (the timeline's crash victims: their crash is a SIGKILL) on their own, the
 * others in ⌈n / perProcess⌉ groups, in turn, so that nodes started one after
 * the other (two at a time) start in different processes.
 */
export function placeNodes (total: number, perProcess: number, alone: ReadonlySet<number>): number[] {
  const shared = Array.from({ length: total }, (_, i) => i).filter(i => !alone.has(i))
  const groups = perProcess <= 1 ? 0 : Math.ceil(shared.length / perProcess)
  const place = new Array<number>(total).fill(-1)
  if (groups > 0) for (const [n, i] of shared.entries()) place[i] = n % groups
  return place
}

interface Sent { id: string, origin: number, hosts: Set<number> }
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

function percentiles (values: number[]): Percentiles {
  const at = (p: number): number | null => values.length === 0 ? null : Math.round(percentile(values, p))
  return { count: values.length, p50: at(50), p95: at(95), p99: at(99) }
}

/**
 * Polls `check`, which asks each of `nodes` nodes (a failed call counts as
 * false), until it returns true, or the deadline passes; returns the ms it took,
 * or null. Every 100 ms up to 8 nodes, less often beyond: a round costs each
 * node a call, and 32 nodes asked every 100 ms answer 320 calls a second.
 */
async function until (nodes: number, check: () => Promise<boolean>, timeoutMs: number): Promise<number | null> {
  const start = Date.now()
  return await waitFor(async () => await check().catch(() => false), 'the swarm', timeoutMs, Math.max(100, nodes * 12.5)).then(() => Date.now() - start, () => null)
}

export class Swarm {
  readonly #o: SwarmOptions
  readonly #hosts: NodeHost[] = []
  readonly #groups: NodeGroupProcess[] = []
  #lan: Lan | undefined
  #zoo: NatZoo | undefined
  #dir = ''
  #mining = false
  /** The groups of the partition under way. */
  #sides: NodeHost[][] | undefined
  /** Crashed nodes not restarted yet, oldest first. */
  readonly #down: NodeHost[] = []
  /** Restarts whose node is still catching up. */
  #catchingUp = 0
  /**
   * Blocks and transactions made while the swarm was whole: the origin node's arrival
   * time is the start, and only the nodes running then (`hosts`) count.
   */
  readonly #blocks: Sent[] = []
  /** Every block generate made, timed or not. */
  #mined = 0
  readonly #txs: Sent[] = []
  #txRate: number
  readonly #addresses = new Map<number, string>()
  /** Arrival times a crashed node reported before its crash, by host index then id: a restarted node knows none of them. */
  readonly #arrivalsBeforeCrash = new Map<number, Map<string, number>>()
  /** Clock offsets (s) by host index, passed at each start. */
  readonly #skews = new Map<number, number>()
  /** Each node's time from its first start to its first peer (null: none within 60 s). */
  readonly #firstPeer: Array<Promise<number | null>> = []
  /** Hosts started so far (the next late one is #hosts[#started]). */
  #started = 0
  readonly #errors: string[] = []
  #stopped = false
  /** The scenario under way, named in the progress line. */
  #scenario: string | undefined
  readonly #abort = new AbortController()
  #creating: Promise<Lan | NatZoo> | undefined
  readonly #random: { mining: SeededRandom, txs: SeededRandom, faults: SeededRandom }
  readonly #choices: { faults: string[], miners: number[] } = { faults: [], miners: [] }
  #t0 = 0
  readonly #samples: SwarmSample[] = []
  readonly #events: SwarmRecord['events'] = []
  /** Each node process's CPU seconds when mining began, by pid, and the nodes it hosted then. */
  readonly #cpuAtMining = new Map<number, { seconds: number, nodes: number }>()
  #miningSince = 0
  #record: SwarmRecord | undefined

  constructor (options: SwarmOptions) {
    this.#o = options
    this.#txRate = options.txRate
    this.#random = { mining: new SeededRandom(options.seed, 'mining'), txs: new SeededRandom(options.seed, 'txs'), faults: new SeededRandom(options.seed, 'faults') }
  }

  /** What --report draws; set once run() has reported. */
  get record (): SwarmRecord | undefined { return this.#record }

  get #settings (): readonly string[] { return this.#o.nodeSettings ?? SWARM_NODE_SETTINGS }

  #perProcess (total: number): number { return this.#o.mode === 'loopback' ? this.#o.nodesPerProcess ?? defaultNodesPerProcess(total) : 1 }

  get #cut (): boolean { return this.#sides !== undefined || this.#down.length > 0 || this.#catchingUp > 0 }

  #progress (line: string, lasting = false): void {
    this.#o.onProgress?.(line, lasting)
  }

  /** A fault on the timeline: shown on the plots, kept on screen. */
  #event (kind: string, label: string): void {
    this.#events.push({ t: Date.now() - this.#t0, do: kind, label })
    this.#progress(label, true)
  }

  #fault (choice: string): void {
    this.#choices.faults.push(choice)
  }

  /** Asks a node to mine; every block counts in the report. */
  async #generate (host: NodeHost, n: number): Promise<string[]> {
    const ids = await host.rpc('generate', [n])
    this.#mined += ids.length
    return ids
  }

  async run (): Promise<SwarmReport> {
    try {
      return await this.#run()
    } finally {
      await this.shutdown()
    }
  }

  /** Stops every process and removes every namespace and datadir; safe to call twice (Ctrl-C). */
  async shutdown (): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#mining = false
    this.#abort.abort()
    await Promise.all(this.#hosts.map(async h => { await h.stop().catch(async () => { await h.kill() }) }))
    await Promise.all(this.#groups.map(async g => { await g.close() }))
    // A LAN still being built removes itself on the abort; a finished one is removed here.
    const net = this.#lan ?? this.#zoo ?? await this.#creating?.catch(() => undefined)
    await net?.destroy()
    if (this.#dir !== '') await rm(this.#dir, { recursive: true, force: true })
  }

  async #run (): Promise<SwarmReport> {
    const o = this.#o
    if (o.mode !== 'loopback') {
      const support = await isLanSupported()
      if (!support.ok) throw new Error(support.reason)
      // Namespaces of swarms that were killed outright (kill -9 leaves no chance to clean up).
      await sweepStaleLans()
    }
    this.#dir = await mkdtemp(join(tmpdir(), 'coints-swarm-'))
    const total = o.nodes + (o.timeline !== undefined ? addedNodes(o.timeline) : o.scenarios.includes('late') ? o.lateNodes : 0)
    if (o.mode === 'lan') {
      const creating = Lan.create(total, this.#abort.signal)
      this.#creating = creating
      this.#lan = await creating
    }
    if (o.mode === 'nat') {
      const creating = NatZoo.create(natSwarmSpec(total), this.#abort.signal)
      this.#creating = creating
      this.#zoo = await creating
    }
    const net = this.#lan ?? this.#zoo
    // V8's code cache on disk, filled by the first node: each further start compiles less (0.85 to 0.55 CPU s of module loading).
    const env = { ...process.env, NODE_COMPILE_CACHE: join(this.#dir, 'compile-cache') }
    const alone = new Set((o.timeline ?? []).flatMap(e => e.do === 'crash' && e.node !== undefined ? [e.node] : []))
    const place = placeNodes(total, net === undefined ? this.#perProcess(total) : 1, alone)
    for (let i = 0; i < total; i++) {
      const datadir = join(this.#dir, `node${i}`)
      if (net !== undefined) this.#hosts.push(new LanHost(i, datadir, net, { mdns: o.mode === 'lan', env }))
      else if (place[i] < 0) this.#hosts.push(new LoopbackHost(i, datadir, env))
      else {
        this.#groups[place[i]] ??= new NodeGroupProcess(join(this.#dir, `group${place[i]}`), env)
        this.#hosts.push(new SharedHost(i, datadir, this.#groups[place[i]]))
      }
    }
    // A skew at 0 is how the node starts.
    for (const e of o.timeline ?? []) if (e.do === 'skew' && e.at === 0 && e.node !== undefined) this.#skews.set(e.node, e.seconds)
    const initial = this.#hosts.slice(0, o.nodes)

    this.#progress(`starting ${o.nodes} nodes (${o.mode}, seed ${o.seed})`, true)
    this.#t0 = Date.now()
    const cpuAtStart = process.cpuUsage()
    // The initial nodes' shared processes load their modules while the seed starts, instead of each at its first node's start.
    for (const g of new Set(place.slice(0, o.nodes))) if (g >= 0) this.#groups[g].open()
    // Two at a time (the cores here): each bootstraps from the seed and from the node two before, started already.
    await this.#startHost(initial[0])
    for (let i = 1; i < initial.length; i += 2) await Promise.all(initial.slice(i, i + 2).map(async h => { await this.#startHost(h) }))
    const peered = await until(initial.length, async () => (await Promise.all(initial.map(async h => await h.rpc('getconnectioncount')))).every(n => n > 0), 60_000)
    const timeToPeersMs = peered === null ? null : Date.now() - this.#t0
    for (const [index, seconds] of this.#skews) this.#event('skew', `skew: node ${index} runs ${seconds} s off`)
    if (peered === null) this.#errors.push('not every node found a peer within 60 s')
    let sampling = true
    const sampler = this.#sampleLoop(() => sampling && !this.#stopped)

    // Wallets on every node; the miners' coins mature before transactions start.
    for (const host of initial) await this.#wallet(host)
    const miners = initial.slice(0, Math.max(1, Math.min(o.miners, o.nodes)))
    await this.#generate(miners[0], regtest.coinbaseMaturity + miners.length)
    for (let i = 1; i < miners.length; i++) await this.#generate(miners[i], 1)
    await this.#waitConverged(initial, 60_000)

    await this.#readCpu()
    this.#mining = true
    const loops = [this.#mineLoop(miners), this.#txLoop(miners, initial)]
    const convergeAfterHealMs = o.timeline !== undefined ? await this.#runTimeline(o.timeline, miners) : await this.#runScenarios(miners)
    this.#scenario = undefined
    this.#mining = false
    await Promise.all(loops)
    const live = this.#hosts.filter(h => h.alive)
    this.#progress('waiting for every node to agree', true)
    const convergedIn = await this.#waitConverged(live, 90_000)
    sampling = false
    await sampler
    await this.#sample()
    const report = await this.#report(live, timeToPeersMs, convergeAfterHealMs, convergedIn !== null)
    const cpu = process.cpuUsage(cpuAtStart)
    report.swarmCpuSecondsPerMinute = round2((cpu.user + cpu.system) / 1e6 / ((Date.now() - this.#t0) / 60_000))
    return report
  }

  /** The named scenarios, one after the other; returns the ms to agree after the (last) heal. */
  async #runScenarios (miners: NodeHost[]): Promise<number | null> {
    const o = this.#o
    let convergeAfterHealMs: number | null = null
    for (const [n, scenario] of o.scenarios.entries()) {
      this.#scenario = scenario
      const began = Date.now()
      this.#event('scenario', `scenario ${n + 1}/${o.scenarios.length}: ${scenario}`)
      if (scenario === 'steady') await sleep(o.phaseSeconds * 1000)
      if (scenario === 'partition') {
        await this.#partition(miners)
        await sleep(o.phaseSeconds * 1000)
        convergeAfterHealMs = await this.#heal()
      }
      if (scenario === 'crash') {
        const victim = await this.#crash(miners)
        await sleep(o.phaseSeconds * 500)
        await this.#restart(victim)
        await sleep(o.phaseSeconds * 500)
      }
      if (scenario === 'late') {
        await this.#add(o.lateNodes)
        await sleep(o.phaseSeconds * 1000)
      }
      this.#progress(`${scenario} done in ${Math.round((Date.now() - began) / 1000)} s: ${this.#mined} blocks mined so far`, true)
    }
    return convergeAfterHealMs
  }

  /** A --scenario-file timeline: each event at its second after mining began, or when the one before it ended. */
  async #runTimeline (events: TimelineEvent[], miners: NodeHost[]): Promise<number | null> {
    this.#scenario = 'timeline'
    const began = Date.now()
    let convergeAfterHealMs: number | null = null
    for (const e of events) {
      const wait = began + e.at * 1000 - Date.now()
      if (wait > 0) await sleep(wait)
      if (e.do === 'end') return convergeAfterHealMs
      if (e.do === 'partition') await this.#partition(miners, e.groups)
      if (e.do === 'heal') convergeAfterHealMs = await this.#heal()
      if (e.do === 'crash') await this.#crash(miners, e.node)
      if (e.do === 'restart') await this.#restart(e.node === undefined ? this.#down.at(-1) : this.#hosts[e.node])
      if (e.do === 'add') await this.#add(e.nodes)
      if (e.do === 'txrate') {
        this.#txRate = e.rate
        this.#event('txrate', `transactions: ${e.rate} a second`)
      }
      if (e.do === 'skew' && !(e.at === 0 && e.node !== undefined)) await this.#skew(e.node, e.seconds)
    }
    await sleep(this.#o.phaseSeconds * 1000)
    return convergeAfterHealMs
  }

  async #startHost (host: NodeHost): Promise<void> {
    this.#abort.signal.throwIfAborted()
    const seed = this.#hosts[0]
    const extra: string[] = [...this.#settings]
    const skew = this.#skews.get(host.index)
    // Joined with '=': a negative offset would read as a flag of its own.
    if (skew !== undefined) extra.push(`--clock-offset=${skew}`)
    if (this.#o.mode === 'loopback' && host !== seed) {
      // The seed, and the node two before: the odd and the even nodes each form a chain of their own too.
      const peers = (host.index >= 2 ? [seed, this.#hosts[host.index - 2]] : [seed]).filter(h => h.alive)
      for (const peer of new Set(peers)) extra.push('--bootstrap', (await peer.rpc('getnetworkinfo')).addresses[0])
    }
    const zoo = this.#zoo
    if (zoo !== undefined) {
      // Beyond the seed, peers are found through the DHT; WebRTC needs the zoo's STUN server; UPnP is off for regtest by default.
      extra.push('--upnp', '--stun', `stun:${STUN_IPS[0]}:3478`)
      if (host !== seed) extra.push('--bootstrap', `/ip4/${zoo.hosts[0].ip}/tcp/${regtest.defaultPort}/p2p/${(await seed.rpc('getnetworkinfo')).peerId}`)
    }
    const first = host.index >= this.#started
    await host.start(extra, this.#abort.signal)
    const spawned = Date.now()
    this.#started = Math.max(this.#started, host.index + 1)
    // Every 20 ms: a node sharing a process starts in some 50-100 ms of CPU, so a coarser poll would be most of its start (a refused call costs nothing).
    await waitForRpc(host, 60_000, 20)
    // Watched in the background: the next node starts meanwhile.
    if (first) this.#firstPeer.push(until(1, async () => await host.rpc('getconnectioncount') > 0, 60_000).then(ms => ms === null ? null : Date.now() - spawned))
  }

  async #wallet (host: NodeHost): Promise<void> {
    const info = await host.rpc('getwalletinfo')
    if (!info.exists) await host.rpc('createwallet', ['swarm'])
    await host.rpc('walletpassphrase', ['swarm', 86_400])
    this.#addresses.set(host.index, await host.rpc('getnewaddress'))
  }

  #running (): Set<number> {
    return new Set(this.#hosts.filter(h => h.alive).map(h => h.index))
  }

  /** Every node's height, peers and reorganisations, every second (less often in big swarms: it costs each node three calls). */
  async #sampleLoop (going: () => boolean): Promise<void> {
    const every = Math.max(1_000, this.#o.nodes * 50)
    while (going()) {
      const next = Date.now() + every
      await this.#sample()
      await sleep(Math.max(0, next - Date.now()))
    }
  }

  async #sample (): Promise<void> {
    const t = Date.now() - this.#t0
    const nodes = await Promise.all(this.#hosts.slice(0, this.#started).map(async h => {
      if (!h.alive) return null
      try {
        const [info, peers, stats] = await Promise.all([h.rpc('getblockchaininfo'), h.rpc('getconnectioncount'), h.rpc('getchainstats')])
        return { height: info.height, peers, reorgs: stats.reorgs }
      } catch {
        return null
      }
    }))
    this.#samples.push({ t, nodes })
  }

  async #mineLoop (miners: NodeHost[]): Promise<void> {
    // Each round every miner mines once, in an order the seed picks: both sides of a partition mine.
    let round: NodeHost[] = []
    while (this.#mining) {
      await sleep(this.#o.blockIntervalMs)
      if (round.length === 0) round = this.#random.mining.shuffle(miners)
      const miner = round.shift() as NodeHost
      if (this.#choices.miners.length < 500) this.#choices.miners.push(miner.index)
      if (!miner.alive) continue
      try {
        const [id] = await this.#generate(miner, 1)
        const [origin] = await miner.rpc('getarrivals', [[id]])
        if (!this.#cut && origin !== null) this.#blocks.push({ id, origin, hosts: this.#running() })
        this.#progress(`${this.#scenario ?? 'mining'}: blocks ${this.#mined}, transactions ${this.#txs.length}`)
      } catch (err) {
        this.#errors.push(`mining on node ${miner.index}: ${(err as Error).message}`)
      }
    }
  }

  async #txLoop (miners: NodeHost[], nodes: NodeHost[]): Promise<void> {
    while (this.#mining) {
      // A rate of 0 (a timeline may set it later) waits a little and looks again.
      await sleep(this.#txRate > 0 ? 1000 / this.#txRate : 200)
      if (this.#txRate <= 0) continue
      const from = this.#random.txs.pick(miners)
      const to = this.#addresses.get(this.#random.txs.pick(nodes).index)
      if (!from.alive || to === undefined) continue
      try {
        const id = await from.rpc('sendtoaddress', [to, '0.01'])
        const [origin] = await from.rpc('getarrivals', [[id]])
        if (!this.#cut && origin !== null) this.#txs.push({ id, origin, hosts: this.#running() })
      } catch {
        // A wallet may run short of mature coins for a moment: the next send tries again.
      }
    }
  }

  /**
   * Splits the running nodes into `groups` (node indexes; the running nodes in
   * none join the first), or, without, into two halves the seed picks, each with
   * a miner. Late nodes joined before take part: left out, they would bridge it.
   */
  async #partition (miners: NodeHost[], groups?: number[][]): Promise<void> {
    const running = this.#hosts.filter(h => h.alive)
    let sides: NodeHost[][]
    if (groups !== undefined) {
      sides = groups.map(g => g.map(i => this.#hosts[i]).filter(h => h.alive))
      sides[0].push(...running.filter(h => !sides.some(s => s.includes(h))))
    } else {
      const shuffled = this.#random.faults.shuffle(running)
      sides = [shuffled.slice(0, Math.ceil(shuffled.length / 2)), shuffled.slice(Math.ceil(shuffled.length / 2))]
      // Both sides mine, so that the heal has two chains to choose from.
      for (const [n, side] of sides.entries()) {
        const other = sides[1 - n]
        const miner = other.find(h => miners.includes(h))
        if (!side.some(h => miners.includes(h)) && miner !== undefined && other.filter(h => miners.includes(h)).length > 1) {
          other.splice(other.indexOf(miner), 1)
          side.push(miner)
        }
      }
    }
    if (this.#lan !== undefined && sides.length > 2) throw new Error('a LAN swarm is split into two groups at most')
    const names = sides.map(s => s.map(h => h.index).sort((a, b) => a - b).join(','))
    this.#fault(`partition ${names.join(' | ')}`)
    this.#sides = sides
    await this.#split(sides, true)
    this.#event('partition', `partition: split ${sides.map(s => s.length).join(' | ')} (${names.join(' | ')})`)
  }

  /** Heals the partition and times the agreement. */
  async #heal (): Promise<number | null> {
    const sides = this.#sides
    if (sides === undefined) return null
    await this.#split(sides, false)
    this.#event('heal', 'partition: healed')
    const ms = await this.#waitConverged(this.#hosts.filter(h => h.alive), 60_000)
    this.#sides = undefined
    if (ms === null) this.#errors.push('no agreement within 60 s of the heal')
    return ms
  }

  async #split (sides: NodeHost[][], cut: boolean): Promise<void> {
    if (this.#lan !== undefined) {
      if (cut) await this.#lan.partition(sides[1].map(h => h.index))
      else await this.#lan.heal()
      return
    }
    const live = sides.map(s => s.filter(h => h.alive))
    const ids: string[][] = []
    for (const side of live) {
      const list: string[] = []
      for (const h of side) list.push((await h.rpc('getnetworkinfo')).peerId)
      ids.push(list)
    }
    for (const [n, a] of live.entries()) {
      for (const [m, b] of live.entries()) {
        if (m <= n) continue
        for (const [i, x] of a.entries()) {
          for (const [j, y] of b.entries()) {
            await x.rpc('setban', [ids[m][j], cut ? 'add' : 'remove'])
            await y.rpc('setban', [ids[n][i], cut ? 'add' : 'remove'])
          }
        }
        // On loopback the sides meet again through an addnode; behind NATs, through the DHT.
        if (!cut && this.#zoo === undefined && a.length > 0 && b.length > 0) await a[0].rpc('addnode', [(await b[0].rpc('getnetworkinfo')).addresses[0]])
      }
    }
  }

  /** Crashes node `index` (absent: a running node that does not mine, the seed's choice): a SIGKILL, or the drop of a node sharing a process (SharedHost.kill). */
  async #crash (miners: NodeHost[], index?: number): Promise<NodeHost> {
    const running = this.#hosts.filter(h => h.alive)
    const idle = running.filter(h => !miners.includes(h))
    const victim = index !== undefined ? this.#hosts[index] : this.#random.faults.pick(idle.length > 0 ? idle : running)
    this.#fault(`crash ${victim.index}`)
    // Down from here: a block made while it dies or catches up is not timed.
    this.#down.push(victim)
    const ids = [...this.#blocks, ...this.#txs].map(i => i.id)
    const arrivals = await victim.rpc('getarrivals', [ids])
    this.#arrivalsBeforeCrash.set(victim.index, new Map(ids.flatMap((id, n) => arrivals[n] === null ? [] : [[id, arrivals[n] as number]])))
    await victim.kill()
    this.#event('crash', victim instanceof SharedHost ? `crash: dropped node ${victim.index} (it shares a process: connections reset, then stopped)` : `crash: killed node ${victim.index}`)
    return victim
  }

  /** Starts a crashed node again on its datadir and waits until it has caught up. */
  async #restart (victim: NodeHost | undefined): Promise<void> {
    if (victim === undefined) return
    this.#catchingUp++
    this.#down.splice(this.#down.indexOf(victim), 1)
    try {
      await this.#startHost(victim)
      if (this.#addresses.has(victim.index)) await victim.rpc('walletpassphrase', ['swarm', 86_400])
      this.#event('restart', `crash: restarted node ${victim.index}`)
      if (await this.#waitConverged(this.#hosts.filter(h => h.alive), 60_000) === null) this.#errors.push(`node ${victim.index} did not catch up within 60 s of its restart`)
    } finally {
      this.#catchingUp--
    }
  }

  /** Restarts a node (absent: the seed's choice) with its clock `seconds` off. */
  async #skew (index: number | undefined, seconds: number): Promise<void> {
    const host = index !== undefined ? this.#hosts[index] : this.#random.faults.pick(this.#hosts.filter(h => h.alive))
    this.#fault(`skew ${host.index} ${seconds}`)
    this.#skews.set(host.index, seconds)
    if (!host.alive) return
    this.#down.push(host)
    await host.stop()
    await this.#restart(host)
    this.#event('skew', `skew: node ${host.index} runs ${seconds} s off`)
  }

  /** Starts the next `n` nodes, which must sync. */
  async #add (n: number): Promise<void> {
    const late = this.#hosts.slice(this.#started, this.#started + n)
    for (const host of late) await this.#startHost(host)
    this.#event('add', `late: added ${late.length} nodes`)
  }

  /** Waits until every host reports the same tip; returns the ms it took, or null. */
  async #waitConverged (hosts: NodeHost[], timeoutMs: number): Promise<number | null> {
    return await until(hosts.length, async () => {
      const tips = await Promise.all(hosts.map(async h => (await h.rpc('getblockchaininfo')).tip))
      return new Set(tips).size === 1
    }, timeoutMs)
  }

  async #report (hosts: NodeHost[], timeToPeersMs: number | null, convergeAfterHealMs: number | null, converged: boolean): Promise<SwarmReport> {
    const delays = async (items: Sent[]): Promise<number[]> => {
      const arrivals = await Promise.all(hosts.map(async h => await h.rpc('getarrivals', [items.map(i => i.id)])))
      // An item counts once it reached every node running when it was made: its delay is to the last one.
      return items.flatMap((item, n) => {
        const times = hosts.flatMap((h, k) => item.hosts.has(h.index) ? [arrivals[k][n] ?? this.#arrivalsBeforeCrash.get(h.index)?.get(item.id) ?? null] : [])
        return times.every(t => t !== null) ? [Math.max(...times as number[]) - item.origin] : []
      })
    }
    const stats = await Promise.all(hosts.map(async h => await h.rpc('getchainstats')))
    const infos = await Promise.all(hosts.map(async h => await h.rpc('getblockchaininfo')))
    const utxos = await Promise.all(hosts.map(async h => JSON.stringify(await h.rpc('gettxoutsetinfo'))))
    const tips = new Set(infos.map(i => i.tip)).size
    const utxoSummaries = new Set(utxos).size
    const blockDelaysMs = await delays(this.#blocks)
    const txDelaysMs = await delays(this.#txs)
    const report: SwarmReport = {
      mode: this.#o.mode,
      nodes: this.#o.nodes,
      late: this.#hosts.length - this.#o.nodes,
      running: hosts.length,
      miners: this.#o.miners,
      scenarios: this.#o.timeline !== undefined ? ['timeline'] : this.#o.scenarios,
      seed: this.#o.seed,
      choices: this.#choices,
      nodeSettings: [...this.#settings],
      nodesPerProcess: this.#perProcess(this.#hosts.length),
      processes: this.#groups.length + this.#hosts.filter(h => !(h instanceof SharedHost)).length,
      timeToPeersMs,
      slowestPeerAfterStartMs: await Promise.all(this.#firstPeer).then(ms => ms.includes(null) ? null : Math.max(...ms as number[])),
      blocks: this.#mined,
      transactions: this.#txs.length,
      blockPropagationMs: percentiles(blockDelaysMs),
      txPropagationMs: percentiles(txDelaysMs),
      orphans: stats.reduce((s, x) => s + x.orphans, 0),
      reorgs: stats.reduce((s, x) => s + x.reorgs, 0),
      maxReorgDepth: Math.max(0, ...stats.map(x => x.maxreorgdepth)),
      convergeAfterHealMs,
      tips,
      height: Math.max(...infos.map(i => i.height)),
      utxoSummaries,
      converged: converged && tips === 1 && utxoSummaries === 1 && hosts.length === this.#hosts.length,
      rssPerNodeMb: await rssPerNodeMb(hosts),
      ...(this.#zoo === undefined ? {} : { nat: await this.#natReport(hosts, this.#zoo) }),
      ...await this.#cpuFigures(hosts),
      swarmCpuSecondsPerMinute: 0,
      errors: [...this.#errors, ...this.#groups.flatMap(g => g.errors)].slice(0, 20)
    }
    this.#record = { report, samples: this.#samples, events: this.#events, blockDelaysMs, txDelaysMs }
    return report
  }

  async #readCpu (): Promise<void> {
    this.#miningSince = Date.now()
    for (const [pid, nodes] of nodesByPid(this.#hosts)) {
      const seconds = await processCpuSeconds(pid)
      if (seconds !== undefined) this.#cpuAtMining.set(pid, { seconds, nodes })
    }
  }

  /**
   * Start-up CPU, and CPU a minute since mining began of the processes that ran throughout (a restarted
   * node's own process started afresh), each process's divided among the nodes it hosted.
   */
  async #cpuFigures (hosts: NodeHost[]): Promise<Pick<SwarmReport, 'cpuSecondsPerNodeMinute' | 'startCpuSecondsPerNode'>> {
    const atMining = [...this.#cpuAtMining.values()]
    const used = await sumOverProcesses(hosts, async pid => {
      const before = this.#cpuAtMining.get(pid)
      const now = await processCpuSeconds(pid)
      return before === undefined || now === undefined ? undefined : now - before.seconds
    })
    const per = (seconds: number, n: number): number | null => n === 0 ? null : round2(seconds / n)
    return {
      cpuSecondsPerNodeMinute: per(used.sum / ((Date.now() - this.#miningSince) / 60_000), used.nodes),
      startCpuSecondsPerNode: per(atMining.reduce((a, c) => a + c.seconds, 0), atMining.reduce((a, c) => a + c.nodes, 0))
    }
  }

  async #natReport (hosts: NodeHost[], zoo: NatZoo): Promise<NatReport> {
    const kindOf = (h: NodeHost): NatKind | 'public' => zoo.hosts[h.index].router?.kind ?? 'public'
    const infos = await Promise.all(hosts.map(async h => await h.rpc('getnetworkinfo')))
    const lists = await Promise.all(hosts.map(async h => await h.rpc('getpeerinfo')))
    const kinds = ['public', ...NAT_KINDS]
    const pairs: Record<string, PairCounts> = {}
    let firstDirect: number | null = null
    for (let x = 0; x < hosts.length; x++) {
      for (let y = x + 1; y < hosts.length; y++) {
        const key = [kindOf(hosts[x]), kindOf(hosts[y])].sort((a, b) => kinds.indexOf(a) - kinds.indexOf(b)).join(' + ')
        const conns = lists[x].find(p => p.peerId === infos[y].peerId)?.connections ?? []
        pairs[key] ??= { direct: 0, relayed: 0, unconnected: 0 }
        pairs[key][conns.some(c => !c.limited) ? 'direct' : conns.length > 0 ? 'relayed' : 'unconnected']++
        if (kindOf(hosts[x]) === 'public' || kindOf(hosts[y]) === 'public') continue
        for (const c of conns) if (!c.limited) firstDirect = Math.min(firstDirect ?? Infinity, c.startTime - this.#t0)
      }
    }
    // Each byte is counted at both ends; a relayed one also rides two direct connections to and from its relay.
    const relayedBytes = Math.round(infos.reduce((sum, i) => sum + i.traffic.relayed, 0) / 2)
    const directBytes = Math.max(0, Math.round(infos.reduce((sum, i) => sum + i.traffic.direct, 0) / 2) - 2 * relayedBytes)
    return { pairs, firstDirectMs: firstDirect, relayedBytes, directBytes }
  }
}

const round2 = (x: number): number => Math.round(x * 100) / 100

/** The running nodes of each process, by its pid (nodes sharing a process share its pid). */
function nodesByPid (hosts: NodeHost[]): Map<number, number> {
  const counts = new Map<number, number>()
  for (const h of hosts) if (h.pid !== undefined) counts.set(h.pid, (counts.get(h.pid) ?? 0) + 1)
  return counts
}

/** A figure of each node process (undefined: none could be read), summed, and the nodes those processes host. */
async function sumOverProcesses (hosts: NodeHost[], figure: (pid: number) => Promise<number | undefined>): Promise<{ sum: number, nodes: number }> {
  let sum = 0
  let nodes = 0
  for (const [pid, count] of nodesByPid(hosts)) {
    const value = await figure(pid)
    if (value === undefined) continue
    sum += value
    nodes += count
  }
  return { sum, nodes }
}

/** The node processes' resident memory, summed and divided by the nodes they host. */
async function rssPerNodeMb (hosts: NodeHost[]): Promise<number | null> {
  const { sum, nodes } = await sumOverProcesses(hosts, residentMemoryMb)
  return nodes === 0 ? null : Math.round(sum / nodes)
}

function natLines (nat: NatReport): string[] {
  return [
    '  pairs by NAT type             direct / relayed / unconnected',
    ...Object.entries(nat.pairs).map(([kinds, c]) => `    ${kinds.padEnd(34)} ${c.direct} / ${c.relayed} / ${c.unconnected}`),
    `  first direct connection      ${nat.firstDirectMs === null ? 'none' : `${nat.firstDirectMs} ms after the start`} (between two hosts behind routers)`,
    `  bytes relayed ${nat.relayedBytes}, direct ${nat.directBytes}`
  ]
}

export function formatReport (r: SwarmReport): string {
  const p = (x: Percentiles): string => x.count === 0 ? 'none measured' : `p50 ${x.p50} ms, p95 ${x.p95} ms, p99 ${x.p99} ms (${x.count})`
  return [
    `swarm: ${r.nodes} nodes${r.late > 0 ? ` + ${r.late} late` : ''} (${r.miners} mining), ${r.mode}, scenarios ${r.scenarios.join(', ')}${r.running < r.nodes + r.late ? `; ${r.running} running at the end` : ''}`,
    `  every node had a peer after  ${r.timeToPeersMs ?? 'never'} ms (each within ${r.slowestPeerAfterStartMs ?? 'never'} ms of its own start)`,
    `  blocks mined                 ${r.blocks} (height ${r.height}; propagation timed for ${r.blockPropagationMs.count})`,
    `  block propagation            ${p(r.blockPropagationMs)}`,
    `  transactions sent            ${r.transactions}`,
    `  transaction propagation      ${p(r.txPropagationMs)}`,
    `  orphans ${r.orphans}, reorganisations ${r.reorgs} (deepest ${r.maxReorgDepth})`,
    `  agreement after the heal     ${r.convergeAfterHealMs === null ? 'n/a' : `${r.convergeAfterHealMs} ms`}`,
    `  resident memory per node     ${r.rssPerNodeMb ?? '?'} MB`,
    ...(r.nat === undefined ? [] : natLines(r.nat)),
    `  CPU per node                 ${r.cpuSecondsPerNodeMinute ?? '?'} s a minute once mining began, ${r.startCpuSecondsPerNode ?? '?'} s before (the swarm's own ${r.swarmCpuSecondsPerMinute} s a minute)`,
    `  node settings                ${r.nodeSettings.length === 0 ? 'the defaults' : r.nodeSettings.join(' ')}; ${r.nodesPerProcess === 1 ? 'a process each' : `up to ${r.nodesPerProcess} nodes a process`} (${r.processes} process${r.processes === 1 ? '' : 'es'})`,
    `  seed                         ${r.seed} (--seed ${r.seed} makes the same choices)`,
    `  tips ${r.tips}, UTXO set summaries ${r.utxoSummaries}: ${r.converged ? 'CONVERGED' : 'NOT CONVERGED'}`,
    ...r.errors.map(e => `  ! ${e}`)
  ].join('\n')
}
