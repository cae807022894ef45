import type { SigCheck } from '../core/rules.ts'

/** msg (32) | pubkey (33) | sig (64): one check in a buffer that moves to a worker without copying. */
export const CHECK_BYTES = 32 + 33 + 64

export function packChecks (checks: Array<Omit<SigCheck, 'txid'>>): Uint8Array<ArrayBuffer> {
  const buf = new Uint8Array(checks.length * CHECK_BYTES)
  checks.forEach((c, i) => {
    const at = i * CHECK_BYTES
    buf.set(c.msg, at)
    buf.set(c.pubkey, at + 32)
    buf.set(c.sig, at + 65)
  })
  return buf
}

export function unpackCheck (buf: Uint8Array, i: number): Omit<SigCheck, 'txid'> {
  const at = i * CHECK_BYTES
  return { msg: buf.subarray(at, at + 32), pubkey: buf.subarray(at + 32, at + 65), sig: buf.subarray(at + 65, at + CHECK_BYTES) }
}
