/**
 * A LAN of hosts on one machine: network namespaces joined by a bridge that
 * lives in a namespace of its own (nothing touches the machine's interfaces:
 * even the veth pairs are made inside the namespaces).
 * Each host gets an address and a default route over its veth, since multicast
 * (mDNS) needs a route. Needs root and iproute2.
 */
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { promisify } from 'node:util'

export const run = promisify(execFile)

export interface LanHost {
  /** The host's network namespace. */
  ns: string
  ip: string
  /** Its interface inside the namespace. */
  iface: string
}

/** Namespaces of this project carry this prefix, then the creating process's pid. */
export const PREFIX = 'coints'
let lanCounter = 0

export async function ip (...args: string[]): Promise<string> {
  try {
    return (await run('ip', args)).stdout
  } catch (err) {
    const e = err as { stderr?: string, message: string }
    throw new Error(`ip ${args.join(' ')}: ${(e.stderr ?? e.message).trim()}`)
  }
}

export async function isLanSupported (): Promise<{ ok: boolean, reason?: string }> {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'LAN mode needs root (network namespaces)' }
  const probe = `${PREFIX}-${process.pid}-probe`
  try {
    await ip('netns', 'add', probe)
    await ip('netns', 'del', probe)
    return { ok: true }
  } catch (err) {
    return { ok: false, reason: `LAN mode needs iproute2 and network namespaces: ${(err as Error).message}` }
  }
}

/** Runs `build`; if it fails, removes what it made (`thing.destroy()`) before passing the failure on. */
export async function builtOrDestroyed<T extends { destroy: () => Promise<void> }> (thing: T, build: () => Promise<void>): Promise<T> {
  try {
    await build()
  } catch (err) {
    await thing.destroy()
    throw err
  }
  return thing
}

/** Namespaces whose hosts run programs: a LAN, or a NAT zoo (nat-zoo.ts). */
export interface HostNetwork {
  spawn: (host: number, command: string, args: string[], options?: SpawnOptions) => ChildProcess
}

export class Lan implements HostNetwork {
  readonly hosts: LanHost[] = []
  readonly #switch: string
  readonly #id: number
  #destroyed = false
  /** Every namespace made so far. */
  readonly #names: string[] = []

  private constructor (id: number) {
    this.#id = id
    this.#switch = `${PREFIX}-${process.pid}-${id}-sw`
  }

  /**
   * Creates `hosts` namespaces on one bridge, addressed 10.77.<lan>.<n>/24. An
   * abort (Ctrl-C) stops the building and removes what was made.
   */
  static async create (hosts: number, signal?: AbortSignal): Promise<Lan> {
    if (hosts < 1 || hosts > 200) throw new RangeError('a LAN has 1 to 200 hosts')
    const lan = new Lan(lanCounter++ % 200)
    return await builtOrDestroyed(lan, async () => { await lan.#build(hosts, signal) })
  }

  /** Port names are kept short: interface names have at most 15 characters. */
  #port (i: number): string {
    return `v${process.pid % 100_000}x${this.#id}x${i}`
  }

  async #build (count: number, signal?: AbortSignal): Promise<void> {
    const sw = this.#switch
    await this.#addNamespace(sw)
    await ip('-n', sw, 'link', 'set', 'lo', 'up')
    for (const bridge of ['br0', 'br1']) {
      await ip('-n', sw, 'link', 'add', bridge, 'type', 'bridge', 'mcast_snooping', '0')
      await ip('-n', sw, 'link', 'set', bridge, 'up')
    }
    for (let i = 0; i < count; i++) {
      signal?.throwIfAborted()
      const ns = `${PREFIX}-${process.pid}-${this.#id}-h${i}`
      const port = this.#port(i)
      const host: LanHost = { ns, ip: `10.77.${this.#id}.${i + 1}`, iface: 'eth0' }
      await this.#addNamespace(ns)
      this.hosts.push(host)
      // Made inside the namespaces, the pair never exists in the machine's own, so removing the namespaces removes it.
      await ip('-n', sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
      await ip('-n', ns, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0')
      await ip('-n', ns, 'link', 'set', 'lo', 'up')
      await ip('-n', ns, 'link', 'set', 'eth0', 'up')
      await ip('-n', ns, 'route', 'add', 'default', 'dev', 'eth0')
      await ip('-n', sw, 'link', 'set', port, 'master', 'br0')
      await ip('-n', sw, 'link', 'set', port, 'up')
    }
  }

  /** Makes a namespace and records it for destroy(), only once made: a name that already existed is not ours to remove. */
  async #addNamespace (name: string): Promise<void> {
    await ip('netns', 'add', name)
    this.#names.push(name)
  }

  /** Starts a program inside a host's namespace. */
  spawn (host: number, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.hosts[host].ns, command, ...args], options)
  }

  /** Runs a program inside a host's namespace and returns its stdout. */
  async exec (host: number, command: string, args: string[]): Promise<string> {
    return (await run('ip', ['netns', 'exec', this.hosts[host].ns, command, ...args])).stdout
  }

  /** Splits the LAN: the hosts in `group` move to a second bridge, cut off from the rest. */
  async partition (group: number[]): Promise<void> {
    for (const i of group) await ip('-n', this.#switch, 'link', 'set', this.#port(i), 'master', 'br1')
  }

  /** Joins every host to one bridge again. */
  async heal (): Promise<void> {
    for (let i = 0; i < this.hosts.length; i++) await ip('-n', this.#switch, 'link', 'set', this.#port(i), 'master', 'br0')
  }

  /** Removes every namespace (and with them every link) this LAN made; safe to call twice. */
  async destroy (): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    for (const ns of this.#names) await ip('netns', 'del', ns).catch(() => {})
  }
}

/** Removes namespaces left by coints processes that no longer run (a killed test, say), and what still runs in them. */
export async function sweepStaleLans (): Promise<string[]> {
  const removed: string[] = []
  for (const line of (await ip('netns', 'list').catch(() => '')).split('\n')) {
    const name = line.split(' ')[0]
    const match = new RegExp(`^${PREFIX}-(\\d+)-`).exec(name)
    if (match === null) continue
    const pid = Number(match[1])
    let alive = true
    try {
      process.kill(pid, 0)
    } catch (err) {
      // Only "no such process" proves it gone (EPERM: alive, another user's).
      alive = (err as NodeJS.ErrnoException).code !== 'ESRCH'
    }
    if (!alive) {
      // Its daemons and nodes outlive it in the namespace (a NAT zoo's miniupnpd, stund): they go first.
      for (const pid of (await ip('netns', 'pids', name).catch(() => '')).split('\n').map(Number).filter(p => p > 0)) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {}
      }
      await ip('netns', 'del', name).catch(() => {})
      removed.push(name)
    }
  }
  return removed
}
