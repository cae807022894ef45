/**
 * NAT traversal, in one run on this machine's NAT zoo (root, iproute2,
 * iptables, nftables, miniupnpd, stund):
 * - the time from a node's start to its first block, behind each kind of
 *   router against a host on the "internet" (the block mined on the seed as
 *   they start);
 * - a 12-node NAT swarm after 60 s: the share of pairs that ended direct among
 *   those whose NATs permit it, and the bytes relayed against direct;
 * - block propagation p50/p99 across that swarm against the same swarm in lan mode.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encodeAddress } from '../src/core/address.ts'
import { getNetwork } from '../src/core/params.ts'
import { LanHost, waitForRpc } from '../src/swarm/hosts.ts'
import { waitFor } from '../src/util/wait-for.ts'
import { NatZoo, STUN_IPS, type NatKind } from '../src/swarm/nat-zoo.ts'
import { Swarm, type PairCounts, type Percentiles } from '../src/swarm/swarm.ts'
import { keyPairOf, randomPrivateKey } from '../src/core/keys.ts'

const regtest = getNetwork('regtest')

/** Pairs a NAT permits to go direct: one end reachable (public or mapped by UPnP), or two cones (port-restricted). */
export function directPermitted (kinds: string): boolean {
  const [a, b] = kinds.split(' + ')
  return a !== 'symmetric' && b !== 'symmetric' ? true : [a, b].some(k => k === 'public' || k === 'upnp')
}

/** Ms from each node's start to its first block, by the kind of its router ('public': on the internet). */
export async function benchFirstBlock (): Promise<Record<string, number | null>> {
  const kinds: NatKind[] = ['upnp', 'port-restricted', 'symmetric']
  const zoo = await NatZoo.create({ publicHosts: 2, routers: kinds.map((kind, i) => ({ name: String(i), kind, hosts: 1 })) })
  const dir = await mkdtemp(join(tmpdir(), 'coints-bench-nat-'))
  const nodes = zoo.hosts.map(h => new LanHost(h.index, join(dir, `node${h.index}`), zoo, { mdns: false }))
  const signal = new AbortController().signal
  try {
    const common = ['--upnp', '--stun', `stun:${STUN_IPS[0]}:3478`, '--miner-address', encodeAddress(regtest.addressPrefix, keyPairOf(randomPrivateKey()).addressHash)]
    await nodes[0].start(common, signal)
    await waitForRpc(nodes[0], 60_000, 50)
    const seed = `/ip4/${zoo.hosts[0].ip}/tcp/${regtest.defaultPort}/p2p/${(await nodes[0].rpc('getnetworkinfo') as { peerId: string }).peerId}`
    const started = await Promise.all(nodes.slice(1).map(async n => { await n.start([...common, '--bootstrap', seed], signal); return Date.now() }))
    await nodes[0].rpc('generate', [1])
    const times = await Promise.all(nodes.slice(1).map(async (n, i) => {
      const at = await waitFor(async () => await n.rpc('getblockchaininfo').then(info => (info as { height: number }).height >= 1 ? Date.now() : undefined, () => undefined), `node ${n.index}'s first block`, 120_000, 50).catch(() => null)
      return at === null ? null : at - started[i]
    }))
    return Object.fromEntries(nodes.slice(1).map((n, i) => [zoo.hosts[n.index].router?.kind ?? 'public', times[i]]))
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop().catch(async () => { await n.kill() }) }))
    await zoo.destroy()
    await rm(dir, { recursive: true, force: true })
  }
}

export interface NatSwarmFigures {
  directShare: number | null
  pairs: Record<string, PairCounts>
  relayedBytes: number
  directBytes: number
  firstDirectMs: number | null
  natPropagationMs: Percentiles
  lanPropagationMs: Percentiles
}

export async function benchNatSwarm (nodes = 12, seconds = 60): Promise<NatSwarmFigures> {
  // One seed for both, so that the two swarms mine and pay alike.
  const options = { nodes, miners: 2, scenarios: ['steady' as const], phaseSeconds: seconds, blockIntervalMs: 2_000, txRate: 1, lateNodes: 0, seed: nodes }
  const nat = await new Swarm({ ...options, mode: 'nat' }).run()
  const lan = await new Swarm({ ...options, mode: 'lan' }).run()
  const pairs = nat.nat?.pairs ?? {}
  const permitted = Object.entries(pairs).filter(([kinds]) => directPermitted(kinds))
  const total = permitted.reduce((n, [, c]) => n + c.direct + c.relayed + c.unconnected, 0)
  return {
    directShare: total === 0 ? null : permitted.reduce((n, [, c]) => n + c.direct, 0) / total,
    pairs,
    relayedBytes: nat.nat?.relayedBytes ?? 0,
    directBytes: nat.nat?.directBytes ?? 0,
    firstDirectMs: nat.nat?.firstDirectMs ?? null,
    natPropagationMs: nat.blockPropagationMs,
    lanPropagationMs: lan.blockPropagationMs
  }
}

export async function benchNat (): Promise<{ firstBlockMs: Record<string, number | null>, swarm: NatSwarmFigures }> {
  return { firstBlockMs: await benchFirstBlock(), swarm: await benchNatSwarm() }
}

if (import.meta.main) console.log(JSON.stringify(await benchNat(), null, 1))
