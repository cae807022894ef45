import { encodeHeaderData, NONCE_BYTES, type HeaderData } from '../core/block.ts'
import { equalBytes } from '../core/hash.ts'

/** CBOR text "nonce" then the head of an 8-byte byte string: what precedes the nonce in an encoded header. */
const NONCE_PREFIX = Uint8Array.from([0x65, ...Buffer.from('nonce'), 0x40 | NONCE_BYTES])

/**
 * Where the 8 nonce bytes sit in an encoded header. DAG-CBOR's canonical key
 * order puts every field at a fixed place once the other values are set, so the
 * miner writes nonces into one buffer instead of re-encoding per attempt.
 */
export function nonceOffset (headerBytes: Uint8Array): number {
  for (let i = 0; i + NONCE_PREFIX.length + NONCE_BYTES <= headerBytes.length; i++) {
    if (equalBytes(headerBytes.subarray(i, i + NONCE_PREFIX.length), NONCE_PREFIX)) return i + NONCE_PREFIX.length
  }
  throw new Error('no nonce field in the encoded header')
}

/** The header encoded once, with the nonce's offset checked by re-encoding a sentinel. */
export function headerTemplate (data: HeaderData): { bytes: Uint8Array, offset: number } {
  const bytes = encodeHeaderData({ ...data, nonce: new Uint8Array(NONCE_BYTES) })
  const offset = nonceOffset(bytes)
  const sentinel = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8])
  const patched = bytes.slice()
  patched.set(sentinel, offset)
  if (!equalBytes(patched, encodeHeaderData({ ...data, nonce: sentinel }))) throw new Error('nonce offset does not match the encoding')
  return { bytes, offset }
}
