/**
 * A NAT zoo on one machine: an "internet" (a bridge in a namespace of its
 * own) with public hosts, a STUN server and home routers, each router a
 * namespace with a WAN interface on the internet and a LAN bridge with hosts
 * behind it. Routers masquerade their LAN and drop unsolicited inbound traffic
 * (as home routers do); their kinds:
 * - upnp: a real UPnP IGD (Debian's miniupnpd) that hosts may ask for a port mapping;
 * - port-restricted: plain MASQUERADE, which keeps a flow's source port when it
 *   can and lets in only replies from the address and port a flow went to;
 * - symmetric: MASQUERADE --random-fully, a fresh random port for every flow,
 *   so the port a STUN server sees is not the one a peer would have to use.
 * The internet's addresses are in 11.18.0.0/16, which libp2p counts as public
 * (its private list has the TEST-NET and shared ranges); nothing links the
 * namespaces to this machine's own interfaces (checkIsolated proves it), so
 * none of that traffic can leave them. Needs root, iproute2 and iptables;
 * miniupnpd and stund (Debian's stun-server) for those daemons.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { builtOrDestroyed, ip, PREFIX, run, type HostNetwork } from './netns.ts'

export const NAT_KINDS = ['upnp', 'port-restricted', 'symmetric'] as const
export type NatKind = typeof NAT_KINDS[number]

export interface RouterSpec { name: string, kind: NatKind, hosts: number }
export interface ZooSpec { publicHosts: number, routers: RouterSpec[] }

export interface ZooHost {
  index: number
  ns: string
  ip: string
  /** The router it sits behind, or none: a host on the internet. */
  router?: { name: string, kind: NatKind, wanIp: string }
}

/** STUN needs two addresses (RFC 3489's change-request); the first is the one clients use. */
export const STUN_IPS = ['11.18.0.2', '11.18.0.3'] as const
const INTERNET_PREFIX = 16
const publicIp = (i: number): string => `11.18.0.${10 + i}`
const wanIp = (r: number): string => `11.18.1.${1 + r}`
const lanIp = (r: number, h: number): string => `10.${60 + r}.0.${h === -1 ? 1 : 10 + h}`

let zooCounter = 0

async function inNs (ns: string, command: string, ...args: string[]): Promise<string> {
  try {
    return (await run('ip', ['netns', 'exec', ns, command, ...args])).stdout
  } catch (err) {
    const e = err as { stderr?: string, message: string }
    throw new Error(`${command} ${args.join(' ')} in ${ns}: ${(e.stderr ?? e.message).trim()}`)
  }
}

export class NatZoo implements HostNetwork {
  readonly hosts: ZooHost[] = []
  readonly #names: string[] = []
  readonly #daemons: ChildProcess[] = []
  readonly #base: string
  readonly #sw: string
  #dir = ''
  #ports = 0
  #destroyed = false

  private constructor (id: number) {
    this.#base = `${PREFIX}-${process.pid}-z${id}`
    this.#sw = `${this.#base}-inet`
  }

  /** Builds the zoo; a failure or an abort removes what was made. */
  static async create (spec: ZooSpec, signal?: AbortSignal): Promise<NatZoo> {
    const zoo = new NatZoo(zooCounter++)
    return await builtOrDestroyed(zoo, async () => { await zoo.#build(spec, signal) })
  }

  /** The namespaces this zoo made (for checks). */
  get namespaces (): readonly string[] { return this.#names }

  async #addNamespace (name: string): Promise<void> {
    await ip('netns', 'add', name)
    this.#names.push(name)
    await ip('-n', name, 'link', 'set', 'lo', 'up')
  }

  /** A veth from the internet's bridge into `ns` as `iface`, with `addresses`, the internet reached on-link. */
  async #wire (ns: string, iface: string, addresses: string[]): Promise<void> {
    const port = `p${this.#ports++}`
    await ip('-n', this.#sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', iface, 'netns', ns)
    for (const a of addresses) await ip('-n', ns, 'addr', 'add', `${a}/${INTERNET_PREFIX}`, 'dev', iface)
    await ip('-n', ns, 'link', 'set', iface, 'up')
    await ip('-n', this.#sw, 'link', 'set', port, 'master', 'br0')
    await ip('-n', this.#sw, 'link', 'set', port, 'up')
  }

  async #build (spec: ZooSpec, signal?: AbortSignal): Promise<void> {
    this.#dir = await mkdtemp(join(tmpdir(), 'coints-zoo-'))
    await this.#addNamespace(this.#sw)
    await ip('-n', this.#sw, 'link', 'add', 'br0', 'type', 'bridge')
    await ip('-n', this.#sw, 'link', 'set', 'br0', 'up')
    await this.#addNamespace(`${this.#base}-stun`)
    await this.#wire(`${this.#base}-stun`, 'eth0', [...STUN_IPS])
    for (let i = 0; i < spec.publicHosts; i++) {
      signal?.throwIfAborted()
      const ns = `${this.#base}-p${i}`
      await this.#addNamespace(ns)
      await this.#wire(ns, 'eth0', [publicIp(i)])
      // A default route on-link: multicast and every internet address go out eth0.
      await ip('-n', ns, 'route', 'add', 'default', 'dev', 'eth0')
      this.hosts.push({ index: this.hosts.length, ns, ip: publicIp(i) })
    }
    for (const [r, router] of spec.routers.entries()) {
      signal?.throwIfAborted()
      const rns = `${this.#base}-r${router.name}`
      await this.#addNamespace(rns)
      await this.#wire(rns, 'wan0', [wanIp(r)])
      await ip('-n', rns, 'route', 'add', 'default', 'dev', 'wan0')
      await ip('-n', rns, 'link', 'add', 'lan0', 'type', 'bridge')
      await ip('-n', rns, 'addr', 'add', `${lanIp(r, -1)}/24`, 'dev', 'lan0')
      await ip('-n', rns, 'link', 'set', 'lan0', 'up')
      await this.#natRules(rns, router.kind)
      for (let h = 0; h < router.hosts; h++) {
        const ns = `${rns}-h${h}`
        await this.#addNamespace(ns)
        await ip('-n', rns, 'link', 'add', `h${h}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
        await ip('-n', rns, 'link', 'set', `h${h}`, 'master', 'lan0')
        await ip('-n', rns, 'link', 'set', `h${h}`, 'up')
        await ip('-n', ns, 'addr', 'add', `${lanIp(r, h)}/24`, 'dev', 'eth0')
        await ip('-n', ns, 'link', 'set', 'eth0', 'up')
        await ip('-n', ns, 'route', 'add', 'default', 'via', lanIp(r, -1), 'dev', 'eth0')
        this.hosts.push({ index: this.hosts.length, ns, ip: lanIp(r, h), router: { name: router.name, kind: router.kind, wanIp: wanIp(r) } })
      }
      if (router.kind === 'upnp') await this.#startMiniupnpd(rns, r)
    }
    await this.#startStun()
  }

  /** A home router: forwards from its LAN, masquerades it, and lets in from the WAN only replies (and, with UPnP, what it maps). */
  async #natRules (rns: string, kind: NatKind): Promise<void> {
    const ipt = async (...args: string[]): Promise<void> => { await inNs(rns, 'iptables', '-w', ...args) }
    await inNs(rns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1')
    await ipt('-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan0', '-j', 'MASQUERADE', ...(kind === 'symmetric' ? ['--random-fully'] : []))
    await ipt('-P', 'FORWARD', 'DROP')
    await ipt('-A', 'FORWARD', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT')
    await ipt('-A', 'FORWARD', '-i', 'lan0', '-o', 'wan0', '-j', 'ACCEPT')
    // What miniupnpd forwards (its DNAT) passes; a router without UPnP has no DNAT.
    await ipt('-A', 'FORWARD', '-i', 'wan0', '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'ACCEPT')
    await ipt('-A', 'INPUT', '-i', 'wan0', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT')
    await ipt('-A', 'INPUT', '-i', 'wan0', '-j', 'DROP')
  }

  async #startMiniupnpd (rns: string, r: number): Promise<void> {
    // miniupnpd's nftables back end fills chains it expects to exist; a table of its own keeps them apart from iptables'.
    const rules = join(this.#dir, `${rns}.nft`)
    await writeFile(rules, [
      'table inet miniupnpd {',
      '  chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }',
      '  chain miniupnpd { }',
      '  chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }',
      '  chain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; }',
      '  chain prerouting_miniupnpd { }',
      '  chain postrouting_miniupnpd { }',
      '}', ''
    ].join('\n'))
    await inNs(rns, 'nft', '-f', rules)
    const conf = join(this.#dir, `${rns}.conf`)
    await writeFile(conf, [
      'ext_ifname=wan0',
      'listening_ip=lan0',
      'port=0',
      'enable_upnp=yes',
      'enable_natpmp=yes',
      'secure_mode=yes',
      'system_uptime=yes',
      'upnp_table_name=miniupnpd',
      'upnp_nat_table_name=miniupnpd',
      'upnp_forward_chain=miniupnpd',
      'upnp_nat_chain=prerouting_miniupnpd',
      'upnp_nat_postrouting_chain=postrouting_miniupnpd',
      `uuid=3b0a6f3e-0c2f-4a59-9d2b-${String(process.pid).padStart(12, '0').slice(-12)}`,
      `allow 1024-65535 10.${60 + r}.0.0/24 1024-65535`,
      'deny 0-65535 0.0.0.0/0 0-65535', ''
    ].join('\n'))
    await this.#daemon(rns, 'miniupnpd', ['-d', '-f', conf, '-P', join(this.#dir, `${rns}.pid`)], /HTTP listening on port|Listening for NAT-PMP/)
  }

  async #startStun (): Promise<void> {
    await this.#daemon(`${this.#base}-stun`, 'stund', ['-h', STUN_IPS[0], '-a', STUN_IPS[1]], undefined)
  }

  /** Starts a daemon in a namespace; with `ready`, waits for a line of its output that matches (10 s at most). */
  async #daemon (ns: string, command: string, args: string[], ready: RegExp | undefined): Promise<void> {
    const child = spawn('ip', ['netns', 'exec', ns, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.#daemons.push(child)
    let output = ''
    await new Promise<void>((resolve, reject) => {
      // A daemon that prints nothing when ready (stund) counts as started once it has run a moment without exiting.
      const timer = setTimeout(() => {
        if (ready === undefined) resolve()
        else reject(new Error(`${command} in ${ns} did not start: ${output.trim().slice(-500)}`))
      }, ready === undefined ? 300 : 10_000)
      const onData = (data: Buffer): void => {
        output += data.toString()
        if (ready?.test(output) === true) {
          clearTimeout(timer)
          resolve()
        }
      }
      child.stdout?.on('data', onData)
      child.stderr?.on('data', onData)
      child.once('exit', code => {
        clearTimeout(timer)
        reject(new Error(`${command} in ${ns} exited (${code}): ${output.trim().slice(-500)}`))
      })
    })
  }

  /**
   * Proves the zoo has no way out: no link of this machine's namespace is ours,
   * and every interface in the zoo is loopback, a bridge, or a veth whose other
   * end is in a namespace of the zoo.
   */
  async checkIsolated (): Promise<void> {
    const own = (await ip('-o', 'link')).split('\n').filter(l => l.includes(this.#base))
    if (own.length > 0) throw new Error(`an interface of the zoo is in this machine's namespace: ${own[0]}`)
    for (const ns of this.#names) {
      const links = JSON.parse(await ip('-j', '-n', ns, '-d', 'link', 'show')) as Array<{ ifname: string, link_type: string, link_netnsid?: number, linkinfo?: { info_kind?: string } }>
      // nsids are per namespace: ask this one which namespace each of its ids names.
      const local = new Map<number, string>()
      for (const line of (await ip('-n', ns, 'netns', 'list-id')).split('\n')) {
        const m = /nsid (\d+) \(iproute2 netns name: (\S+)\)/.exec(line)
        if (m !== null) local.set(Number(m[1]), m[2])
      }
      for (const link of links) {
        const kind = link.linkinfo?.info_kind
        if (link.link_type === 'loopback' || kind === 'bridge') continue
        if (kind !== 'veth') throw new Error(`${ns} has ${link.ifname}, a ${kind ?? link.link_type}: not of the zoo`)
        const peer = link.link_netnsid === undefined ? ns : local.get(link.link_netnsid)
        if (peer === undefined || !this.#names.includes(peer)) throw new Error(`${ns}'s ${link.ifname} leads to a namespace outside the zoo (${peer ?? `nsid ${String(link.link_netnsid)}`})`)
      }
    }
  }

  spawn (host: number, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.hosts[host].ns, command, ...args], options)
  }

  /** Removes every daemon, namespace and file this zoo made; safe to call twice. */
  async destroy (): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    await Promise.all(this.#daemons.map(async child => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }))
    for (const ns of this.#names) await ip('netns', 'del', ns).catch(() => {})
    if (this.#dir !== '') await rm(this.#dir, { recursive: true, force: true })
  }
}
