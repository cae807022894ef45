import type { Multiaddr } from '@multiformats/multiaddr'

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
