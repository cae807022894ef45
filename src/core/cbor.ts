import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { DecodeError } from './errors.ts'
import { equalBytes, sha256 } from './hash.ts'

const SHA2_256 = 0x12

/** CIDv1 of DAG-CBOR bytes hashed with SHA-256: how every block, header and transaction is named. */
export function cidOf (bytes: Uint8Array): CID {
  return cidOfDigest(sha256(bytes))
}

/** The CID of bytes whose SHA-256 is already known (the miner's proof-of-work hash). */
export function cidOfDigest (digest: Uint8Array): CID {
  return CID.createV1(dagCbor.code, createDigest(SHA2_256, digest))
}

const BASE32_LOWER = Buffer.from('abcdefghijklmnopqrstuvwxyz234567', 'latin1')
const BASE32_UPPER = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 'latin1')
/** What every id of ours starts with: CIDv1, dag-cbor, a 32-byte SHA-256 multihash. */
export const CID_PREFIX = Uint8Array.from([0x01, dagCbor.code, SHA2_256, 32])
/** Tag 42, a byte string of 37, the identity multibase prefix: what precedes a CID's 36 bytes in DAG-CBOR. */
export const CID_LINK_HEAD = Uint8Array.of(0xd8, 0x2a, 0x58, 0x25, 0x00)

/** Where ids are spelled: one buffer reused, each string made from it at once (the hot paths make thousands a block). */
const SPELL = Buffer.allocUnsafe(256)
const CID_BYTES = new Uint8Array(CID_PREFIX.length + 32)
CID_BYTES.set(CID_PREFIX)

/** RFC 4648 base32, unpadded, of `bytes` into SPELL from `at`; returns where it ends. */
function base32Into (bytes: Uint8Array, alphabet: Uint8Array, at: number): number {
  const whole = bytes.length - (bytes.length % 5)
  // Five bytes make eight characters: the first byte, then the other four as one 32-bit word.
  for (let i = 0; i < whole; i += 5) {
    const hi = bytes[i]
    const lo = ((bytes[i + 1] << 24) | (bytes[i + 2] << 16) | (bytes[i + 3] << 8) | bytes[i + 4]) >>> 0
    SPELL[at++] = alphabet[hi >> 3]
    SPELL[at++] = alphabet[((hi & 7) << 2) | (lo >>> 30)]
    SPELL[at++] = alphabet[(lo >>> 25) & 31]
    SPELL[at++] = alphabet[(lo >>> 20) & 31]
    SPELL[at++] = alphabet[(lo >>> 15) & 31]
    SPELL[at++] = alphabet[(lo >>> 10) & 31]
    SPELL[at++] = alphabet[(lo >>> 5) & 31]
    SPELL[at++] = alphabet[lo & 31]
  }
  let bits = 0
  let value = 0
  for (let i = whole; i < bytes.length; i++) {
    value = ((value << 8) | bytes[i]) & 0x1fff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      SPELL[at++] = alphabet[(value >> bits) & 31]
    }
  }
  if (bits > 0) SPELL[at++] = alphabet[(value << (5 - bits)) & 31]
  return at
}

/** RFC 4648 base32, unpadded, after an ASCII `prefix`: for ids and keys, so at most 150 bytes. */
export function base32 (bytes: Uint8Array, prefix = '', upper = false): string {
  if (prefix.length + Math.ceil(bytes.length * 8 / 5) > SPELL.length) throw new RangeError(`base32 of ${bytes.length} bytes: ids and keys only`)
  const end = base32Into(bytes, upper ? BASE32_UPPER : BASE32_LOWER, SPELL.write(prefix, 'latin1'))
  return SPELL.toString('latin1', 0, end)
}

/** Spells the dag-cbor CIDv1 of this SHA-256 digest into SPELL; returns where it ends. */
function cidStringInto (digest: Uint8Array): number {
  CID_BYTES.set(digest, CID_PREFIX.length)
  SPELL[0] = 0x62 // "b", base32's multibase prefix
  return base32Into(CID_BYTES, BASE32_LOWER, 1)
}

/**
 * The base32 string of the dag-cbor CIDv1 with this SHA-256 digest, the same as
 * `cidOfDigest(digest).toString()` without building the CID, then an ASCII
 * `suffix` in the same string: block index loads, transaction ids and outpoint
 * keys make one per object.
 */
export function cidStringOfDigest (digest: Uint8Array, suffix = ''): string {
  const at = cidStringInto(digest)
  if (suffix.length > SPELL.length - at) throw new RangeError(`a suffix of ${suffix.length} characters: keys only`)
  return SPELL.toString('latin1', 0, at + SPELL.write(suffix, at, 'latin1'))
}

export function encodeCbor (value: unknown): Uint8Array {
  return dagCbor.encode(value)
}

export function decodeCbor (bytes: Uint8Array, what: string): unknown {
  try {
    return dagCbor.decode(bytes)
  } catch (err) {
    throw new DecodeError('MALFORMED_CBOR', `${what}: ${(err as Error).message}`)
  }
}

/**
 * Decode DAG-CBOR and insist the bytes are the canonical encoding of what they
 * hold, so one object has exactly one id: a peer cannot make a second id for a
 * known transaction by re-encoding it.
 */
export function decodeCanonical (bytes: Uint8Array, what: string): unknown {
  const value = decodeCbor(bytes, what)
  if (!equalBytes(dagCbor.encode(value), bytes)) throw new DecodeError('NON_CANONICAL', what)
  return value
}

/** CIDv1, dag-cbor, a whole SHA-256 digest: how every object of ours is named. */
function isOurCid (cid: CID): boolean {
  return cid.version === 1 && cid.code === dagCbor.code && cid.multihash.code === SHA2_256 && cid.multihash.digest.length === 32
}

/** Parse a CID string as users and peers send it; only DAG-CBOR SHA-256 CIDv1 names our objects. */
export function parseCid (text: string): CID {
  let cid: CID
  try {
    cid = CID.parse(text)
  } catch {
    throw new DecodeError('BAD_CID', `not a CID: ${text.slice(0, 80)}`)
  }
  if (!isOurCid(cid)) {
    throw new DecodeError('BAD_CID', `not a CIDv1 dag-cbor sha2-256 id: ${text.slice(0, 80)}`)
  }
  return cid
}

/** Field readers for decoding untrusted objects: each throws DecodeError naming the field. */
export const read = {
  object (v: unknown, field: string): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array || CID.asCID(v) !== null) {
      throw new DecodeError('BAD_FIELD', `${field} must be a map`)
    }
    return v as Record<string, unknown>
  },
  keys (o: Record<string, unknown>, allowed: readonly string[], field: string): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) throw new DecodeError('BAD_FIELD', `${field} has unknown key ${k}`)
    }
  },
  array (v: unknown, field: string, max: number): unknown[] {
    if (!Array.isArray(v)) throw new DecodeError('BAD_FIELD', `${field} must be a list`)
    if (v.length > max) throw new DecodeError('TOO_LARGE', `${field} has ${v.length} items, at most ${max}`)
    return v
  },
  uint (v: unknown, field: string, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
      throw new DecodeError('BAD_FIELD', `${field} must be an integer in 0..${max}`)
    }
    return v
  },
  /** Integers of any size: DAG-CBOR hands back a number when it is safe, a bigint otherwise. */
  bigint (v: unknown, field: string): bigint {
    if (typeof v === 'bigint') return v
    if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v)
    throw new DecodeError('BAD_FIELD', `${field} must be an integer`)
  },
  bytes (v: unknown, field: string, length?: number): Uint8Array {
    if (!(v instanceof Uint8Array)) throw new DecodeError('BAD_FIELD', `${field} must be bytes`)
    if (length !== undefined && v.length !== length) throw new DecodeError('BAD_FIELD', `${field} must be ${length} bytes`)
    return v
  },
  cid (v: unknown, field: string): CID {
    const cid = CID.asCID(v)
    if (cid === null || !isOurCid(cid)) {
      throw new DecodeError('BAD_FIELD', `${field} must be a dag-cbor sha2-256 CID link`)
    }
    return cid
  }
}

export { CID }
