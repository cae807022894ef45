/**
 * `coints swarm`: runs N node processes on this machine (on loopback, or each in
 * its own network namespace on a bridged LAN), mines and sends transactions
 * among them, applies faults (partition and heal, crash and restart, late
 * joiners) and reports propagation, reorganisations and convergence.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { residentMemoryMb } from '../util/resident-memory.ts'
import { percentile } from '../util/stats.ts'
import { waitFor } from '../util/wait-for.ts'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { getNetwork } from '../core/params.ts'
import { LanHost, LoopbackHost, waitForRpc, type NodeHost } from './hosts.ts'
import { isLanSupported, Lan, sweepStaleLans } from './netns.ts'
import { NAT_KINDS, NatZoo, STUN_IPS, type NatKind, type ZooSpec } from './nat-zoo.ts'

export const SCENARIOS = ['steady', 'partition', 'crash', 'late'] as const
export type Scenario = typeof SCENARIOS[number]

export interface SwarmOptions {
  nodes: number
  miners: number
  mode: 'loopback' | 'lan' | 'nat'
  scenarios: Scenario[]
  /** Seconds each scenario phase runs. */
  phaseSeconds: number
  /** Milliseconds between blocks (a miner is picked in turn). */
  blockIntervalMs: number
  /** Wallet-to-wallet sends per second (0: none). */
  txRate: number
  /** Nodes added late (scenario "late"). */
  lateNodes: number
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
  scenarios: Scenario[]
  timeToPeersMs: number | null
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
  /** Mean resident memory of the node processes at the end, MB (Linux). */
  rssPerNodeMb: number | null
  /** --mode nat only. */
  nat?: NatReport
  errors: string[]
}

/** Router kinds of a NAT swarm, in turn: most home routers are port-restricted cones, some offer UPnP, few are symmetric. */
const ROUTER_TURNS: readonly NatKind[] = ['port-restricted', 'upnp', 'port-restricted', 'symmetric']

/** Two public hosts (the first the seed, both relays), then a router with one host for each other node. */
export function natSwarmSpec (total: number): ZooSpec {
  const publicHosts = Math.min(2, Math.max(1, total - 1))
  return { publicHosts, routers: Array.from({ length: total - publicHosts }, (_, i) => ({ name: String(i), kind: ROUTER_TURNS[i % ROUTER_TURNS.length], hosts: 1 })) }
}

const regtest = getNetwork('regtest')

interface Sent { id: string, origin: number, hosts: Set<number> }
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

function percentiles (values: number[]): Percentiles {
  const at = (p: number): number | null => values.length === 0 ? null : Math.round(percentile(values, p))
  return { count: values.length, p50: at(50), p95: at(95), p99: at(99) }
}

/** Polls `check` (a failed call counts as false) until it returns true, or the deadline passes; returns the ms it took, or null. */
async function until (check: () => Promise<boolean>, timeoutMs: number): Promise<number | null> {
  const start = Date.now()
  return await waitFor(async () => await check().catch(() => false), 'the swarm', timeoutMs, 100).then(() => Date.now() - start, () => null)
}

export class Swarm {
  readonly #o: SwarmOptions
  readonly #hosts: NodeHost[] = []
  #lan: Lan | undefined
  #zoo: NatZoo | undefined
  #started = 0
  #dir = ''
  #mining = false
  #cut = false
  /**
   * Blocks and transactions made while the swarm was whole: the origin node's arrival
   * time is the start, and only the nodes running then (`hosts`) count.
   */
  readonly #blocks: Sent[] = []
  /** Every block generate made, timed or not. */
  #mined = 0
  readonly #txs: Sent[] = []
  readonly #addresses = new Map<number, string>()
  /** Arrival times a crashed node reported before its crash, by host index then id: a restarted node knows none of them. */
  readonly #arrivalsBeforeCrash = new Map<number, Map<string, number>>()
  readonly #errors: string[] = []
  #stopped = false
  /** The scenario under way, named in the progress line. */
  #scenario: Scenario | undefined
  readonly #abort = new AbortController()
  #creating: Promise<Lan | NatZoo> | undefined

  constructor (options: SwarmOptions) {
    this.#o = options
  }

  #progress (line: string, lasting = false): void {
    this.#o.onProgress?.(line, lasting)
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
    const total = o.nodes + (o.scenarios.includes('late') ? o.lateNodes : 0)
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
    for (let i = 0; i < total; i++) {
      const datadir = join(this.#dir, `node${i}`)
      this.#hosts.push(net === undefined ? new LoopbackHost(i, datadir) : new LanHost(i, datadir, net, { mdns: o.mode === 'lan' }))
    }
    const initial = this.#hosts.slice(0, o.nodes)

    this.#progress(`starting ${o.nodes} nodes (${o.mode})`, true)
    const started = this.#started = Date.now()
    await this.#startHost(initial[0])
    for (const host of initial.slice(1)) await this.#startHost(host)
    const peered = await until(async () => (await Promise.all(initial.map(async h => (await h.rpc('getpeerinfo')).length))).every(n => n > 0), 60_000)
    const timeToPeersMs = peered === null ? null : Date.now() - started
    if (peered === null) this.#errors.push('not every node found a peer within 60 s')

    // Wallets on every node; the miners' coins mature before transactions start.
    for (const host of initial) await this.#wallet(host)
    const miners = initial.slice(0, Math.max(1, Math.min(o.miners, o.nodes)))
    await this.#generate(miners[0], regtest.coinbaseMaturity + miners.length)
    for (let i = 1; i < miners.length; i++) await this.#generate(miners[i], 1)
    await this.#waitConverged(initial, 60_000)

    this.#mining = true
    const loops = [this.#mineLoop(miners), this.#txLoop(miners, initial)]
    let convergeAfterHealMs: number | null = null
    for (const [n, scenario] of o.scenarios.entries()) {
      this.#scenario = scenario
      const began = Date.now()
      this.#progress(`scenario ${n + 1}/${o.scenarios.length}: ${scenario}`, true)
      if (scenario === 'steady') await sleep(o.phaseSeconds * 1000)
      // Late nodes joined before take part: left out of a partition, they would bridge it.
      const running = this.#hosts.filter(h => h.alive)
      if (scenario === 'partition') convergeAfterHealMs = await this.#partition(running, miners)
      if (scenario === 'crash') await this.#crash(running, miners)
      if (scenario === 'late') await this.#late(initial)
      this.#progress(`${scenario} done in ${Math.round((Date.now() - began) / 1000)} s: ${this.#mined} blocks mined so far`, true)
    }
    this.#scenario = undefined
    this.#mining = false
    await Promise.all(loops)
    const live = this.#hosts.filter(h => h.alive)
    this.#progress('waiting for every node to agree', true)
    const convergedIn = await this.#waitConverged(live, 90_000)
    return await this.#report(live, timeToPeersMs, convergeAfterHealMs, convergedIn !== null)
  }

  async #startHost (host: NodeHost): Promise<void> {
    this.#abort.signal.throwIfAborted()
    const seed = this.#hosts[0]
    const extra: string[] = []
    if (this.#o.mode === 'loopback' && host !== seed) {
      // The seed, and the node two before: the odd and the even nodes each form a chain of their own too.
      const peers = host.index >= 2 ? [seed, this.#hosts[host.index - 2]] : [seed]
      for (const peer of new Set(peers)) extra.push('--bootstrap', (await peer.rpc('getnetworkinfo')).addresses[0])
    }
    const zoo = this.#zoo
    if (zoo !== undefined) {
      // Beyond the seed, peers are found through the DHT; WebRTC needs the zoo's STUN server; UPnP is off for regtest by default.
      extra.push('--upnp', '--stun', `stun:${STUN_IPS[0]}:3478`)
      if (host !== seed) extra.push('--bootstrap', `/ip4/${zoo.hosts[0].ip}/tcp/${regtest.defaultPort}/p2p/${(await seed.rpc('getnetworkinfo')).peerId}`)
    }
    await host.start(extra, this.#abort.signal)
    await waitForRpc(host, 60_000, 100)
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

  async #mineLoop (miners: NodeHost[]): Promise<void> {
    for (let turn = 0; this.#mining; turn++) {
      await sleep(this.#o.blockIntervalMs)
      const miner = miners[turn % miners.length]
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
    if (this.#o.txRate <= 0) return
    for (let n = 0; this.#mining; n++) {
      await sleep(1000 / this.#o.txRate)
      const from = miners[n % miners.length]
      const to = this.#addresses.get(nodes[(n * 7 + 1) % nodes.length].index)
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

  /** Splits the swarm in two (each side with a miner), lets both mine, heals, and times the agreement. */
  async #partition (nodes: NodeHost[], miners: NodeHost[]): Promise<number | null> {
    const sideB = nodes.filter((_, i) => i % 2 === 1)
    if (!sideB.some(h => miners.includes(h)) && miners.length > 1) sideB.push(miners[1])
    const sideA = nodes.filter(h => !sideB.includes(h))
    this.#cut = true
    await this.#split(sideA, sideB, true)
    this.#progress(`partition: split ${sideA.length} | ${sideB.length}`, true)
    await sleep(this.#o.phaseSeconds * 1000)
    await this.#split(sideA, sideB, false)
    this.#progress('partition: healed', true)
    const ms = await this.#waitConverged(nodes, 60_000)
    this.#cut = false
    if (ms === null) this.#errors.push('no agreement within 60 s of the heal')
    return ms
  }

  async #split (a: NodeHost[], b: NodeHost[], cut: boolean): Promise<void> {
    if (this.#lan !== undefined) {
      if (cut) await this.#lan.partition(b.map(h => h.index))
      else await this.#lan.heal()
      return
    }
    const peerIds = async (hosts: NodeHost[]): Promise<string[]> => {
      const ids: string[] = []
      for (const h of hosts) ids.push((await h.rpc('getnetworkinfo')).peerId)
      return ids
    }
    const [idsA, idsB] = [await peerIds(a), await peerIds(b)]
    for (const [i, x] of a.entries()) {
      for (const [j, y] of b.entries()) {
        await x.rpc('setban', [idsB[j], cut ? 'add' : 'remove'])
        await y.rpc('setban', [idsA[i], cut ? 'add' : 'remove'])
      }
    }
    // On loopback the sides meet again through an addnode; behind NATs, through the DHT.
    if (!cut && this.#zoo === undefined) {
      const addr = (await b[0].rpc('getnetworkinfo')).addresses[0]
      await a[0].rpc('addnode', [addr])
    }
  }

  /** SIGKILLs a node that does not mine (the last one), then restarts it on its datadir: it must catch up. */
  async #crash (nodes: NodeHost[], miners: NodeHost[]): Promise<void> {
    const victim = [...nodes].reverse().find(h => !miners.includes(h)) ?? nodes[nodes.length - 1]
    this.#cut = true
    const ids = [...this.#blocks, ...this.#txs].map(i => i.id)
    const arrivals = await victim.rpc('getarrivals', [ids])
    this.#arrivalsBeforeCrash.set(victim.index, new Map(ids.flatMap((id, n) => arrivals[n] === null ? [] : [[id, arrivals[n] as number]])))
    await victim.kill()
    this.#progress(`crash: killed node ${victim.index}`, true)
    await sleep(this.#o.phaseSeconds * 500)
    await this.#startHost(victim)
    await victim.rpc('walletpassphrase', ['swarm', 86_400])
    this.#progress(`crash: restarted node ${victim.index}`, true)
    if (await this.#waitConverged(nodes, 60_000) === null) this.#errors.push(`node ${victim.index} did not catch up within 60 s of its restart`)
    this.#cut = false
    await sleep(this.#o.phaseSeconds * 500)
  }

  async #late (nodes: NodeHost[]): Promise<void> {
    const late = this.#hosts.slice(nodes.length)
    for (const host of late) await this.#startHost(host)
    this.#progress(`late: added ${late.length} nodes`, true)
    await sleep(this.#o.phaseSeconds * 1000)
  }

  /** Waits until every host reports the same tip; returns the ms it took, or null. */
  async #waitConverged (hosts: NodeHost[], timeoutMs: number): Promise<number | null> {
    return await until(async () => {
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
    return {
      mode: this.#o.mode,
      nodes: this.#o.nodes,
      late: this.#hosts.length - this.#o.nodes,
      running: hosts.length,
      miners: this.#o.miners,
      scenarios: this.#o.scenarios,
      timeToPeersMs,
      blocks: this.#mined,
      transactions: this.#txs.length,
      blockPropagationMs: percentiles(await delays(this.#blocks)),
      txPropagationMs: percentiles(await delays(this.#txs)),
      orphans: stats.reduce((s, x) => s + x.orphans, 0),
      reorgs: stats.reduce((s, x) => s + x.reorgs, 0),
      maxReorgDepth: Math.max(0, ...stats.map(x => x.maxreorgdepth)),
      convergeAfterHealMs,
      tips,
      height: Math.max(...infos.map(i => i.height)),
      utxoSummaries,
      converged: converged && tips === 1 && utxoSummaries === 1 && hosts.length === this.#hosts.length,
      rssPerNodeMb: await meanRssMb(hosts),
      ...(this.#zoo === undefined ? {} : { nat: await this.#natReport(hosts, this.#zoo) }),
      errors: this.#errors.slice(0, 20)
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
        for (const c of conns) if (!c.limited) firstDirect = Math.min(firstDirect ?? Infinity, c.startTime - this.#started)
      }
    }
    // Each byte is counted at both ends; a relayed one also rides two direct connections to and from its relay.
    const relayedBytes = Math.round(infos.reduce((sum, i) => sum + i.traffic.relayed, 0) / 2)
    const directBytes = Math.max(0, Math.round(infos.reduce((sum, i) => sum + i.traffic.direct, 0) / 2) - 2 * relayedBytes)
    return { pairs, firstDirectMs: firstDirect, relayedBytes, directBytes }
  }
}

async function meanRssMb (hosts: NodeHost[]): Promise<number | null> {
  const values: number[] = []
  for (const h of hosts) {
    const mb = h.pid === undefined ? undefined : await residentMemoryMb(h.pid)
    if (mb !== undefined) values.push(mb)
  }
  return values.length === 0 ? null : Math.round(values.reduce((a, b) => a + b, 0) / values.length)
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
    `  every node had a peer after  ${r.timeToPeersMs ?? 'never'} ms`,
    `  blocks mined                 ${r.blocks} (height ${r.height}; propagation timed for ${r.blockPropagationMs.count})`,
    `  block propagation            ${p(r.blockPropagationMs)}`,
    `  transactions sent            ${r.transactions}`,
    `  transaction propagation      ${p(r.txPropagationMs)}`,
    `  orphans ${r.orphans}, reorganisations ${r.reorgs} (deepest ${r.maxReorgDepth})`,
    `  agreement after the heal     ${r.convergeAfterHealMs === null ? 'n/a' : `${r.convergeAfterHealMs} ms`}`,
    `  resident memory per node     ${r.rssPerNodeMb ?? '?'} MB`,
    ...(r.nat === undefined ? [] : natLines(r.nat)),
    `  tips ${r.tips}, UTXO set summaries ${r.utxoSummaries}: ${r.converged ? 'CONVERGED' : 'NOT CONVERGED'}`,
    ...r.errors.map(e => `  ! ${e}`)
  ].join('\n')
}
