import { bech32, bech32m } from '@scure/base'
import { DecodeError } from './errors.ts'
import { quoted } from './text.ts'

export const ADDRESS_HASH_BYTES = 20
/** Witness version of every coints address: 0 with a 20-byte program, as Bitcoin's P2WPKH. */
const VERSION = 0
const MAX_VERSION = 16
/** Longest address text looked at, and quoted in errors (BIP173's limit). */
const MAX_LENGTH = 90

/**
 * A segwit-style address (BIP173): bech32 of (version 0, hash160(pubkey)) under
 * a per-network prefix, so a mistyped character fails the checksum and an
 * address of another network fails the prefix. Version 0 takes bech32, not
 * bech32m (BIP350 reserves that for versions 1 and above), so any segwit-aware
 * decoder reads coints addresses.
 */
export function encodeAddress (prefix: string, hash: Uint8Array): string {
  if (hash.length !== ADDRESS_HASH_BYTES) throw new TypeError('address hash must be 20 bytes')
  return bech32.encode(prefix, [VERSION, ...bech32.toWords(hash)])
}

function badAddress (address: string, why: string): DecodeError {
  return new DecodeError('BAD_ADDRESS', `invalid address ${quoted(address, MAX_LENGTH)}: ${why}`)
}

/** The bech32 or bech32m decoding of a string (BIP350: the checksum tells which), or why it is neither. */
function decodeSegwit (address: string): { prefix: string, words: number[], variant: 'bech32' | 'bech32m' } {
  const text = address as `${string}1${string}`
  const plain = bech32.decodeUnsafe(text, MAX_LENGTH)
  if (plain !== undefined) return { ...plain, variant: 'bech32' }
  const m = bech32m.decodeUnsafe(text, MAX_LENGTH)
  if (m !== undefined) return { ...m, variant: 'bech32m' }
  try {
    bech32.decode(text, MAX_LENGTH)
  } catch (err) {
    // scure names the whole input in its checksum error; the address is quoted once, by badAddress.
    const message = (err as Error).message
    throw badAddress(address, message.startsWith('Invalid checksum') ? 'bad checksum (a character is mistyped or missing)' : message)
  }
  throw badAddress(address, 'not bech32')
}

/** The 20-byte hash an address pays, checked against the network's prefix; DecodeError('BAD_ADDRESS') naming what is wrong. */
export function decodeAddress (prefix: string, address: unknown): Uint8Array {
  if (typeof address !== 'string') throw new DecodeError('BAD_ADDRESS', 'address must be a string')
  const decoded = decodeSegwit(address)
  if (decoded.prefix !== prefix) throw badAddress(address, `prefix ${decoded.prefix} is not this network's (${prefix})`)
  const [version, ...words] = decoded.words
  if (version === undefined || version > MAX_VERSION) throw badAddress(address, 'no valid witness version')
  if (version === 0 && decoded.variant !== 'bech32') throw badAddress(address, 'version 0 with a bech32m checksum (BIP350 reserves bech32m for version 1 and above; coints 0.1 wrote these: ask for a new address)')
  if (version !== 0 && decoded.variant !== 'bech32m') throw badAddress(address, `version ${version} with a bech32 checksum (BIP350: bech32m from version 1)`)
  let hash: Uint8Array
  try {
    hash = bech32.fromWords(words)
  } catch (err) {
    throw badAddress(address, `bad payload (${(err as Error).message})`)
  }
  if (version !== VERSION) throw badAddress(address, `witness version ${version}: coints pays version 0 only`)
  if (hash.length !== ADDRESS_HASH_BYTES) throw badAddress(address, `a ${hash.length}-byte program: coints addresses hold a 20-byte key hash`)
  return hash
}
