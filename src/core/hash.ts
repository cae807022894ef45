import { hash as nodeHash } from 'node:crypto'
import { hash160OneBlock, ONE_BLOCK_MAX } from './hash160.ts'

/** SHA-256 through Node's one-shot native hash: the miner's and validator's hot path. */
export function sha256 (data: Uint8Array): Uint8Array {
  return nodeHash('sha256', data, 'buffer')
}

/** RIPEMD-160 of SHA-256, as Bitcoin's addresses: 20 bytes naming a public key. */
export function hash160 (data: Uint8Array): Uint8Array {
  // Public keys: cheaper in JavaScript than two native calls (hash160.ts).
  if (data.length <= ONE_BLOCK_MAX) return hash160OneBlock(data)
  const digest = nodeHash('ripemd160', sha256(data), 'buffer')
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength)
}

/** A 32-byte big-endian digest read as an unsigned integer (for proof of work). */
export function bytesToBigInt (bytes: Uint8Array): bigint {
  let n = 0n
  for (const b of bytes) n = (n << 8n) | BigInt(b)
  return n
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

export function fromHex (hex: string): Uint8Array {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new TypeError('not a hex string of whole bytes')
  return new Uint8Array(Buffer.from(hex, 'hex'))
}
