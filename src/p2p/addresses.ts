import { networkInterfaces } from 'node:os'
import type { Multiaddr } from '@multiformats/multiaddr'
import { parseAddress } from './subnet.ts'

/** Loopback addresses (127.0.0.0/8, ::1). */
export function isLoopback (ma: Multiaddr): boolean {
  const [first] = ma.getComponents()
  if (first === undefined) return false
  if (first.name === 'ip4') return first.value?.startsWith('127.') === true
  if (first.name === 'ip6') return first.value === '::1'
  return false
}

/**
 * The addresses worth dialing for a discovered peer. mDNS announces a peer's
 * 127.0.0.1 too: dialing that reaches ourselves, not the peer, so a remote
 * peer's loopback addresses are skipped whenever it offers any other.
 */
export function dialableAddresses (addrs: Multiaddr[]): Multiaddr[] {
  const remote = addrs.filter(a => !isLoopback(a))
  return remote.length > 0 ? remote : addrs
}

export const TRANSPORTS = ['tcp', 'webrtc', 'circuit', 'other'] as const
export type TransportName = typeof TRANSPORTS[number]

/**
 * The transport a connection's remote address says it runs over (getpeerinfo's,
 * the explorer's, the peer log lines' and the coints_peers metric's): a WebRTC
 * connection signalled through a relay has the relay's address with /webrtc,
 * and is direct all the same; circuit is a connection relayed through another peer.
 */
export function transportOf (ma: Multiaddr): TransportName {
  const names = ma.getComponents().map(c => c.name)
  if (names.includes('webrtc')) return 'webrtc'
  if (names.includes('p2p-circuit')) return 'circuit'
  if (names.includes('tcp')) return 'tcp'
  return 'other'
}

/** The bytes of the IP address a multiaddr starts with (/ip4/… or /ip6/…), if any. */
export function addressOf (ma: Multiaddr): Uint8Array | undefined {
  const [first] = ma.getComponents()
  return first?.value !== undefined && (first.name === 'ip4' || first.name === 'ip6') ? parseAddress(first.value) : undefined
}

/**
 * Whether an address is one of this host's own (127.0.0.1, ::1, its LAN
 * addresses): a peer connecting from there is a process on this machine, and
 * every local process shares it.
 */
export function isThisHost (address: Uint8Array): boolean {
  return Object.values(networkInterfaces()).some(list => list?.some(i => {
    const own = parseAddress(i.address)
    return own !== undefined && own.length === address.length && own.every((b, n) => b === address[n])
  }))
}
