/**
 * Salted RPC credentials in Bitcoin Core's rpcauth form (share/rpcauth):
 * `user:salt$hmac`, hmac = HMAC-SHA256 keyed with the salt's hex text over the
 * password. The node keeps only that line, never the password.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { CointsError } from '../core/errors.ts'
import { quoted } from '../core/text.ts'

export interface RpcAuth { user: string, salt: string, hmac: string }

const LINE = /^([^:\s]+):([0-9a-f]{2,128})\$([0-9a-f]{64})$/

function hmacOf (salt: string, password: string): string {
  return createHmac('sha256', salt).update(password, 'utf8').digest('hex')
}

/** Parses an rpcauth line; CointsError('BAD_RPCAUTH') naming the form otherwise. */
export function parseRpcAuth (line: string): RpcAuth {
  const m = LINE.exec(line)
  if (m === null) throw new CointsError('BAD_RPCAUTH', `${quoted(line)} is not USER:SALT$HMAC (make one with: coints rpcauth USER)`)
  return { user: m[1], salt: m[2], hmac: m[3] }
}

/** A new credential: the rpcauth line for the node and the password for its clients (random unless given). */
export function makeRpcAuth (user: string, password = randomBytes(32).toString('hex')): { line: string, password: string } {
  if (!/^[^:\s]+$/.test(user)) throw new CointsError('BAD_RPCAUTH', `a user name has no colon or space, got ${quoted(user)}`)
  const salt = randomBytes(16).toString('hex')
  return { line: `${user}:${salt}$${hmacOf(salt, password)}`, password }
}

/** Whether user and password match one of the credentials (compared in constant time). */
export function checkRpcAuth (auths: readonly RpcAuth[], user: string, password: string): boolean {
  let ok = false
  for (const auth of auths) {
    const expected = Buffer.from(auth.hmac, 'hex')
    const given = Buffer.from(hmacOf(auth.salt, password), 'hex')
    if (auth.user === user && timingSafeEqual(expected, given)) ok = true
  }
  return ok
}
