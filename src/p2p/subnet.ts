import { parseIP } from '@chainsafe/is-ip/parse'
import { CointsError } from '../core/errors.ts'

/** How much of an IPv6 address one host is given (RFC 6177): a ban of one IPv6 peer covers its /64, or a new address would be free. */
export const IPV6_HOST_PREFIX = 64

/** The bytes of an IPv4 or IPv6 address (an IPv4-mapped IPv6 one as IPv4), or undefined when `text` is not an address. */
export function parseAddress (text: string): Uint8Array | undefined {
  const ip = parseIP(text)
  if (ip?.length === 16 && ip.subarray(0, 10).every(b => b === 0) && ip[10] === 0xff && ip[11] === 0xff) return ip.slice(12)
  return ip
}

/** An IPv4 or IPv6 network: an address masked to its first `prefix` bits. */
export class Subnet {
  readonly network: Uint8Array
  readonly prefix: number
  /** Canonical CIDR text: "203.0.113.7/32", "2001:db8::/64" (IPv6 as RFC 5952 spells it). */
  readonly text: string

  constructor (address: Uint8Array, prefix: number) {
    const bits = address.length * 8
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) throw new CointsError('BAD_SUBNET', `a prefix of ${prefix} bits for an address of ${bits}`)
    this.network = mask(address, prefix)
    this.prefix = prefix
    this.text = `${formatAddress(this.network)}/${prefix}`
  }

  contains (address: Uint8Array): boolean {
    if (address.length !== this.network.length) return false
    const masked = mask(address, this.prefix)
    return masked.every((b, i) => b === this.network[i])
  }
}

/**
 * A subnet as a user writes it (Bitcoin Core's `setban` syntax): an address
 * alone ("203.0.113.7", "2001:db8::1": that address only), with a prefix
 * length ("203.0.113.0/24") or with a netmask ("203.0.113.0/255.255.255.0").
 */
export function parseSubnet (text: string): Subnet {
  const slash = text.indexOf('/')
  const address = parseAddress(slash < 0 ? text : text.slice(0, slash))
  if (address === undefined) throw new CointsError('BAD_SUBNET', `not an IP address or subnet: ${text}`)
  if (slash < 0) return new Subnet(address, address.length * 8)
  const suffix = text.slice(slash + 1)
  if (/^\d{1,3}$/.test(suffix)) return new Subnet(address, Number(suffix))
  const netmask = parseAddress(suffix)
  const prefix = netmask === undefined || netmask.length !== address.length ? -1 : prefixOfNetmask(netmask)
  if (prefix < 0) throw new CointsError('BAD_SUBNET', `not a prefix length or a netmask: ${suffix}`)
  return new Subnet(address, prefix)
}

/** The subnet a misbehaving peer's address earns: the address itself for IPv4, its /64 for IPv6. */
export function hostSubnet (address: Uint8Array): Subnet {
  return new Subnet(address, address.length === 4 ? 32 : IPV6_HOST_PREFIX)
}

function mask (address: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(address.length)
  for (let i = 0; i < out.length; i++) {
    const bits = Math.min(8, Math.max(0, prefix - i * 8))
    out[i] = address[i] & (0xff << (8 - bits))
  }
  return out
}

/** The prefix length of a netmask, or -1 when its ones are not contiguous. */
function prefixOfNetmask (netmask: Uint8Array): number {
  let prefix = 0
  while (prefix < netmask.length * 8 && (netmask[prefix >> 3] & (0x80 >> (prefix & 7))) !== 0) prefix++
  return mask(netmask, prefix).every((b, i) => b === netmask[i]) ? prefix : -1
}

function formatAddress (address: Uint8Array): string {
  if (address.length === 4) return address.join('.')
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(((address[i] << 8) | address[i + 1]).toString(16))
  // WHATWG URL serialises an IPv6 host in RFC 5952's canonical form (the longest run of zero groups as ::).
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1)
}
