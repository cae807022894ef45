import { fork, spawn, type ChildProcess, type StdioOptions } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { NODE_RUNTIME_FLAGS } from '../node/runtime-flags.ts'
import { CointsError } from '../core/errors.ts'
import { getNetwork } from '../core/params.ts'
import { callRpcRaw, typedRpc } from '../rpc/client.ts'
import type { RpcCall } from '../rpc/contract.ts'
import { freePort } from '../util/free-port.ts'
import { waitFor } from '../util/wait-for.ts'
import type { HostNetwork } from './netns.ts'
import type { GroupNotice, GroupOrder } from './node-group.ts'

const MAIN = new URL('../cli/main.ts', import.meta.url).pathname
const AGENT = new URL('./agent.ts', import.meta.url).pathname
const GROUP = new URL('../cli/node-group.ts', import.meta.url).pathname
const regtest = getNetwork('regtest')

/** One node on this machine (of a swarm, or a benchmark's), in a process of its own or shared, and RPC to it. */
export interface NodeHost {
  readonly index: number
  readonly datadir: string
  /** Starts (or restarts, on the same datadir) the node; never once `signal` has aborted (the swarm is stopping). */
  start: (extraArgs: string[], signal?: AbortSignal) => Promise<void>
  /** A crash: SIGKILL of a process of its own (a node sharing one: SharedHost.kill). */
  kill: () => Promise<void>
  /** A clean stop (SIGTERM, or an order to a shared process), then wait for the end. */
  stop: () => Promise<void>
  /** Calls of the node's RPC, typed by the contract. */
  readonly rpc: RpcCall
  readonly alive: boolean
  /** Why the node last ended by itself (a failed start, an exit), if it did: named at once by waitForRpc. */
  readonly endedBecause: string | undefined
  /** The pid of the process the node runs in while it runs (for memory and CPU figures; nodes sharing a process share it). */
  readonly pid: number | undefined
}

/** A swarm node's `coints node` flags. */
function nodeFlags (datadir: string, rpcPort: number, extra: string[]): string[] {
  return ['--network', 'regtest', '--datadir', datadir, '--rpc-port', String(rpcPort), '--log-level', 'warn', ...extra]
}

/** A node process's arguments. */
function nodeArgs (flags: string[]): string[] {
  return [...NODE_RUNTIME_FLAGS, MAIN, 'node', ...flags]
}

/**
 * A node's output is dropped, unless COINTS_SWARM_LOGS is set: then its stderr
 * (its log, and libp2p's debug log with DEBUG=libp2p:*) goes to <name>.log
 * (<datadir>.log; a node group's, group<N>.log, holds its nodes' logs).
 */
function spawnNode (start: (stdio: StdioOptions) => ChildProcess, name: string, ipc = false): ChildProcess {
  const channel: Array<'ipc'> = ipc ? ['ipc'] : []
  if (process.env.COINTS_SWARM_LOGS === undefined) return start(['ignore', 'ignore', 'ignore', ...channel])
  const log = openSync(`${name}.log`, 'a')
  try {
    return start(['ignore', 'ignore', log, ...channel])
  } finally {
    closeSync(log)
  }
}

/** A swarm's RPC calls give up after this long: a hung node must not hang the swarm. */
const RPC_TIMEOUT_MS = 120_000
/** A process that has not exited this long after SIGTERM gets SIGKILL. */
const EXIT_DEADLINE_MS = 15_000

/** Sends `signal` (null: none, the process was told otherwise) and waits for the exit; SIGKILL after EXIT_DEADLINE_MS. */
async function exitOf (child: ChildProcess | undefined, signal: NodeJS.Signals | null): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  if (signal !== null) child.kill(signal)
  if (await inTime(exited)) return
  child.kill('SIGKILL')
  await exited
}

/** Whether `ending` settles within EXIT_DEADLINE_MS. */
async function inTime (ending: Promise<void>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<false>(resolve => { timer = setTimeout(resolve, EXIT_DEADLINE_MS, false) })
  const settled = await Promise.race([ending.then(() => true), late])
  clearTimeout(timer)
  return settled
}

/**
 * Resolves once the host's node answers RPC, polling every `intervalMs`; fails after `timeoutMs`, or at once,
 * saying why, once the node has ended (its process exited, or its group reported it failed to start).
 */
export async function waitForRpc (host: NodeHost, timeoutMs: number, intervalMs: number): Promise<void> {
  await waitFor(async () => {
    if (!host.alive) throw new CointsError('NODE_ENDED', `node ${host.index} ended before it answered RPC: ${host.endedBecause ?? 'it was stopped'}`)
    return await host.rpc('getblockchaininfo').then(() => true, () => false)
  }, `node ${host.index} to answer RPC`, timeoutMs, intervalMs)
}

/** How a node's own process ended, for endedBecause. */
function exitCause (child: ChildProcess | undefined): string | undefined {
  if (child === undefined || isRunning(child)) return undefined
  return `its process exited (${child.signalCode ?? `code ${child.exitCode}`})`
}

/** A loopback node's ports, picked at its first start and kept through restarts (its peers know its address), and RPC to it. */
class LoopbackPorts {
  readonly #datadir: string
  #rpc = 0
  #p2p = 0

  constructor (datadir: string) { this.#datadir = datadir }

  /** The node's flags: these ports, no mDNS, an HTTP server (its metrics) on a port the system picks. */
  async flags (extraArgs: string[]): Promise<string[]> {
    if (this.#rpc === 0) {
      this.#rpc = await freePort()
      this.#p2p = await freePort()
    }
    return nodeFlags(this.#datadir, this.#rpc, ['--listen', `/ip4/127.0.0.1/tcp/${this.#p2p}`, '--no-mdns', '--http', '127.0.0.1:0', ...extraArgs])
  }

  readonly rpc = typedRpc(async (method, params) => await callRpcRaw({ datadir: this.#datadir, port: this.#rpc, timeoutMs: RPC_TIMEOUT_MS }, method, params))
}

/** A node on this machine's loopback, found through bootstrap lists, in a process of its own. */
export class LoopbackHost implements NodeHost {
  readonly index: number
  readonly datadir: string
  readonly #env: NodeJS.ProcessEnv | undefined
  readonly #ports: LoopbackPorts
  #child: ChildProcess | undefined

  /** `env`: the node process's environment (default this process's). */
  constructor (index: number, datadir: string, env?: NodeJS.ProcessEnv) {
    this.index = index
    this.datadir = datadir
    this.#env = env
    this.#ports = new LoopbackPorts(datadir)
    this.rpc = this.#ports.rpc
  }

  get alive (): boolean { return isRunning(this.#child) }
  get endedBecause (): string | undefined { return exitCause(this.#child) }
  get pid (): number | undefined { return this.alive ? this.#child?.pid : undefined }

  async start (extraArgs: string[], signal?: AbortSignal): Promise<void> {
    const flags = await this.#ports.flags(extraArgs)
    // After the last await: a stop that came meanwhile has already passed this host by.
    signal?.throwIfAborted()
    this.#child = spawnNode(stdio => spawn(process.execPath, nodeArgs(flags), { stdio, env: this.#env }), this.datadir)
  }

  async kill (): Promise<void> { await exitOf(this.#child, 'SIGKILL') }
  async stop (): Promise<void> { await exitOf(this.#child, 'SIGTERM') }

  readonly rpc: RpcCall
}

function isRunning (child: ChildProcess | undefined): boolean {
  return child !== undefined && child.exitCode === null && child.signalCode === null
}

/**
 * A process hosting several loopback nodes (src/cli/node-group.ts), forked at
 * its first member's start and ended once none runs (forked again if one
 * restarts then).
 */
export class NodeGroupProcess {
  readonly #name: string
  readonly #env: NodeJS.ProcessEnv | undefined
  #child: ChildProcess | undefined
  /** Each running member's end, by node index. */
  readonly #ends = new Map<number, { ended: Promise<void>, end: () => void }>()
  /** Why members failed (to start, or while running), for the swarm's report. */
  readonly errors: string[] = []
  readonly #closing = new WeakMap<ChildProcess, Promise<void>>()
  /** Why each member last ended, if it failed (a clean stop clears it). */
  readonly #failures = new Map<number, string>()

  /** `name`: where its log goes with COINTS_SWARM_LOGS (<name>.log). */
  constructor (name: string, env?: NodeJS.ProcessEnv) {
    this.#name = name
    this.#env = env
  }

  get pid (): number | undefined { return isRunning(this.#child) ? this.#child?.pid : undefined }

  running (index: number): boolean { return this.#ends.has(index) }

  /** Why member `index` last ended, if it failed. */
  failure (index: number): string | undefined { return this.#failures.get(index) }

  /** Forks the process ahead of its first order, so that it loads its modules meanwhile. */
  open (): void {
    if (!isRunning(this.#child) || this.#child?.connected !== true) this.#child = this.#fork()
  }

  /** Ends the process, if no member runs in it (a swarm that stops: one opened but never given a node). */
  async close (): Promise<void> {
    const child = this.#child
    if (this.#ends.size > 0 || child === undefined) return
    if (child.connected) child.disconnect()
    // One wait a process: its members' ends all close it at once (16 listeners on its 'exit' otherwise).
    let closing = this.#closing.get(child)
    if (closing === undefined) this.#closing.set(child, closing = exitOf(child, null))
    await closing
  }

  start (index: number, args: string[]): void {
    let end = (): void => {}
    const ended = new Promise<void>(resolve => { end = resolve })
    this.#ends.set(index, { ended, end })
    this.#failures.delete(index)
    this.#order({ do: 'start', index, args })
  }

  /** Orders member `index` to stop (or crash) and waits for its end; the process ends with its last member. */
  async end (index: number, how: 'stop' | 'crash'): Promise<void> {
    const member = this.#ends.get(index)
    if (member === undefined) return
    this.#order({ do: how, index })
    // A member that would not stop is dropped with its whole process (the others go down with it).
    if (!await inTime(member.ended)) await exitOf(this.#child, 'SIGKILL')
    // Its channel closing is its order to exit (another member's end may have closed it already): it exits
    // by itself, as a node process does at SIGTERM (so that --cpu-prof, say, writes its profile).
    await this.close()
  }

  #order (order: GroupOrder): void {
    this.open()
    this.#child?.send(order)
  }

  #fork (): ChildProcess {
    const child = spawnNode(stdio => fork(GROUP, [], { execArgv: [...NODE_RUNTIME_FLAGS], stdio, env: this.#env }), this.#name, true)
    child.on('message', (notice: GroupNotice) => {
      if (notice.error !== undefined) this.#failed(notice.index, notice.error)
      this.#ended(notice.index)
    })
    // Its members end with it (not those of a process forked since, after this one's last member stopped).
    child.once('exit', (code, signal) => {
      if (this.#child !== child || this.#ends.size === 0) return
      const exit = signal ?? `code ${code}`
      this.errors.push(`a node group process exited (${exit}) while nodes ${[...this.#ends.keys()].join(', ')} ran in it`)
      for (const index of [...this.#ends.keys()]) {
        this.#failures.set(index, `its node group process exited (${exit})`)
        this.#ended(index)
      }
    })
    return child
  }

  #failed (index: number, error: string): void {
    this.errors.push(`node ${index}: ${error}`)
    this.#failures.set(index, error)
  }

  #ended (index: number): void {
    this.#ends.get(index)?.end()
    this.#ends.delete(index)
  }
}

/** A loopback node in a process it shares with others (a NodeGroupProcess): same flags, ports and RPC as a LoopbackHost's. */
export class SharedHost implements NodeHost {
  readonly index: number
  readonly datadir: string
  readonly #group: NodeGroupProcess
  readonly #ports: LoopbackPorts

  constructor (index: number, datadir: string, group: NodeGroupProcess) {
    this.index = index
    this.datadir = datadir
    this.#group = group
    this.#ports = new LoopbackPorts(datadir)
    this.rpc = this.#ports.rpc
  }

  get alive (): boolean { return this.#group.running(this.index) }
  get endedBecause (): string | undefined { return this.#group.failure(this.index) }
  get pid (): number | undefined { return this.alive ? this.#group.pid : undefined }

  async start (extraArgs: string[], signal?: AbortSignal): Promise<void> {
    const flags = await this.#ports.flags(extraArgs)
    signal?.throwIfAborted()
    this.#group.start(this.index, flags)
  }

  /** Connections reset and no stop-time writes skipped: see NodeGroup's crash. */
  async kill (): Promise<void> { await this.#group.end(this.index, 'crash') }
  async stop (): Promise<void> { await this.#group.end(this.index, 'stop') }

  readonly rpc: RpcCall
}

/**
 * A node alone in a host's namespace (of a LAN, found by mDNS; or of a NAT
 * zoo, found through bootstrap peers and the DHT); RPC goes through an agent
 * process in the namespace.
 */
export class LanHost implements NodeHost {
  readonly index: number
  readonly datadir: string
  readonly #lan: HostNetwork
  readonly #mdns: boolean
  readonly #env: NodeJS.ProcessEnv | undefined
  #child: ChildProcess | undefined
  #agent: ChildProcess | undefined
  readonly #pending = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void }>()
  #ids = 0

  constructor (index: number, datadir: string, lan: HostNetwork, options: { mdns?: boolean, env?: NodeJS.ProcessEnv } = {}) {
    this.index = index
    this.datadir = datadir
    this.#lan = lan
    this.#mdns = options.mdns ?? true
    this.#env = options.env
  }

  get alive (): boolean { return isRunning(this.#child) }
  get endedBecause (): string | undefined { return exitCause(this.#child) }
  /** `ip netns exec` execs the node, so the spawned pid is the node's. */
  get pid (): number | undefined { return this.alive ? this.#child?.pid : undefined }

  async start (extraArgs: string[], signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted()
    this.#child = spawnNode(stdio => this.#lan.spawn(this.index, process.execPath, nodeArgs(nodeFlags(this.datadir, regtest.defaultRpcPort, ['--listen', `/ip4/0.0.0.0/tcp/${regtest.defaultPort}`, this.#mdns ? '--mdns' : '--no-mdns', ...extraArgs])), { stdio, env: this.#env }), this.datadir)
    if (this.#agent === undefined) {
      const agent = this.#lan.spawn(this.index, process.execPath, [AGENT, this.datadir, String(regtest.defaultRpcPort), String(RPC_TIMEOUT_MS)], { stdio: ['pipe', 'pipe', 'ignore'] })
      createInterface({ input: agent.stdout as NodeJS.ReadableStream }).on('line', line => {
        const reply = JSON.parse(line) as { id: number, result?: unknown, error?: { code: string, message: string } }
        const p = this.#pending.get(reply.id)
        this.#pending.delete(reply.id)
        if (reply.error !== undefined) p?.reject(new CointsError(reply.error.code, reply.error.message.replace(/^[A-Z_]+: /, '')))
        else p?.resolve(reply.result)
      })
      agent.on('exit', () => { for (const p of this.#pending.values()) p.reject(new Error('swarm agent exited')) })
      this.#agent = agent
    }
  }

  async kill (): Promise<void> { await exitOf(this.#child, 'SIGKILL') }

  async stop (): Promise<void> {
    await exitOf(this.#child, 'SIGTERM')
    this.#agent?.stdin?.end()
    await exitOf(this.#agent, 'SIGTERM')
  }

  readonly rpc = typedRpc(async (method, params) => await this.#relay(method, params))

  /** A call through the agent in the host's namespace. */
  async #relay (method: string, params: unknown): Promise<unknown> {
    const agent = this.#agent
    if (agent?.stdin === undefined || agent.stdin === null) throw new Error('node host is not started')
    // Its stdin is gone with it: a request written now would never be answered.
    if (agent.exitCode !== null || agent.signalCode !== null) throw new Error('swarm agent exited')
    const id = this.#ids++
    return await new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      agent.stdin?.write(JSON.stringify({ id, method, params }) + '\n')
    })
  }
}
