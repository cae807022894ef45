import { bech32m } from '@scure/base'
import { DecodeError } from './errors.ts'

export const ADDRESS_HASH_BYTES = 20
const VERSION = 0

/**
 * bech32m of (version, hash160(pubkey)) under a per-network prefix: a mistyped
 * character fails the checksum, and an address of another network fails the prefix.
 */
export function encodeAddress (prefix: string, hash: Uint8Array): string {
  if (hash.length !== ADDRESS_HASH_BYTES) throw new TypeError('address hash must be 20 bytes')
  return bech32m.encode(prefix, [VERSION, ...bech32m.toWords(hash)])
}

export function decodeAddress (prefix: string, address: unknown): Uint8Array {
  if (typeof address !== 'string') throw new DecodeError('BAD_ADDRESS', 'address must be a string')
  let decoded: { prefix: string, words: number[] }
  try {
    decoded = bech32m.decode(address as `${string}1${string}`)
  } catch (err) {
    throw new DecodeError('BAD_ADDRESS', `invalid address ${address.slice(0, 90)}: ${(err as Error).message}`)
  }
  if (decoded.prefix !== prefix) {
    throw new DecodeError('BAD_ADDRESS', `address prefix ${decoded.prefix} is not this network's (${prefix})`)
  }
  const [version, ...words] = decoded.words
  if (version !== VERSION) throw new DecodeError('BAD_ADDRESS', `unknown address version ${version}`)
  let hash: Uint8Array
  try {
    hash = bech32m.fromWords(words)
  } catch (err) {
    throw new DecodeError('BAD_ADDRESS', `invalid address payload: ${(err as Error).message}`)
  }
  if (hash.length !== ADDRESS_HASH_BYTES) throw new DecodeError('BAD_ADDRESS', 'address payload must be 20 bytes')
  return hash
}
