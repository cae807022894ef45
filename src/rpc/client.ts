import { readFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { CointsError } from '../core/errors.ts'
import type { RpcCall, RpcMethodName, RpcParams, RpcResult } from './contract.ts'
import { COOKIE_FILE, PORT_FILE } from './server.ts'

export interface RpcTarget {
  datadir: string
  port: number
  host?: string
  /** Salted credentials (an --rpc-auth user of the node) instead of the datadir's cookie. */
  auth?: { user: string, password: string }
  /** Gives up on a call after this long (none by default: generate and rescans may take minutes). */
  timeoutMs?: number
}

/** A JSON-RPC error answered by the node, with its numeric code and the error's own code string. */
export class RpcCallError extends CointsError {
  readonly rpcCode: number
  constructor (rpcCode: number, code: string, message: string) {
    super(code, message)
    this.rpcCode = rpcCode
  }
}

/** The RPC port a running node wrote into its datadir; undefined when there is none (no node, or one of coints 0.1). */
export async function rpcPortOf (datadir: string): Promise<number | undefined> {
  const text = await readFile(join(datadir, PORT_FILE), 'utf8').catch(() => undefined)
  const port = Number(text?.trim())
  return Number.isInteger(port) && port > 0 && port <= 65_535 ? port : undefined
}

/**
 * The contract's typed call over an untyped one (HTTP, or a relay): the node
 * answers each method with the result the contract gives it, so this is the
 * one place a reply's JSON is taken as its type.
 */
export function typedRpc (send: (method: string, params: unknown) => Promise<unknown>): RpcCall {
  return async <M extends RpcMethodName, const P extends RpcParams<M> = RpcParams<M>>(method: M, ...params: [P?]): Promise<RpcResult<M, P>> =>
    await send(method, params[0] ?? []) as RpcResult<M, P>
}

/** Typed calls of a running node's JSON-RPC (callRpcRaw's). */
export function rpcClient (target: RpcTarget): RpcCall {
  return typedRpc(async (method, params) => await callRpcRaw(target, method, params))
}

/**
 * Calls a running node's JSON-RPC, authenticating with the cookie in its
 * datadir (or the target's credentials): any method name and params, the
 * result as JSON. For methods named at run time (`coints rpc`) and relays;
 * everything else calls through rpcClient.
 */
export async function callRpcRaw (target: RpcTarget, method: string, params: unknown = []): Promise<unknown> {
  const cookiePath = join(target.datadir, COOKIE_FILE)
  let cookie: string
  if (target.auth !== undefined) {
    cookie = `${target.auth.user}:${target.auth.password}`
  } else {
    try {
      cookie = (await readFile(cookiePath, 'utf8')).trim()
    } catch {
      throw new CointsError('NO_COOKIE', `no RPC cookie at ${cookiePath}: is a node running with --datadir ${target.datadir}?`)
    }
  }
  const where = `${target.host ?? '127.0.0.1'}:${target.port}`
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method, params })
  const reply = await new Promise<{ status: number, text: string }>((resolve, reject) => {
    const req = request({
      host: target.host ?? '127.0.0.1',
      port: target.port,
      method: 'POST',
      path: '/',
      headers: { 'Content-Type': 'application/json', Authorization: `Basic ${Buffer.from(cookie).toString('base64')}`, 'Content-Length': Buffer.byteLength(body) }
    }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }) })
      res.on('error', reject)
    })
    if (target.timeoutMs !== undefined) {
      req.setTimeout(target.timeoutMs, () => { req.destroy(new CointsError('RPC_TIMEOUT', `${method} on ${where} did not answer within ${target.timeoutMs} ms`)) })
    }
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof CointsError) reject(err)
      else if (err.code === 'ECONNREFUSED') reject(new CointsError('NOT_RUNNING', target.auth === undefined ? `no node is running with RPC on ${where} (datadir ${target.datadir})` : `no node is running with RPC on ${where}`))
      else reject(new CointsError('RPC_UNREACHABLE', `cannot reach the node's RPC on ${where}: ${err.message}`))
    })
    req.end(body)
  })
  if (reply.status === 401) {
    throw new CointsError('UNAUTHORISED', target.auth === undefined
      ? `the node on ${where} refused the cookie from ${cookiePath} (another node's datadir?)`
      : `the node on ${where} refused the password of RPC user ${target.auth.user}`)
  }
  let json: { result?: unknown, error?: { code: number, message: string, data?: { code?: string } } }
  try {
    json = JSON.parse(reply.text)
  } catch {
    throw new CointsError('BAD_REPLY', `HTTP ${reply.status} from the node: ${reply.text.slice(0, 200)}`)
  }
  if (json.error !== undefined && json.error !== null) {
    const code = json.error.data?.code ?? 'RPC_ERROR'
    // The server's message already leads with the code.
    throw new RpcCallError(json.error.code, code, json.error.message.startsWith(`${code}: `) ? json.error.message.slice(code.length + 2) : json.error.message)
  }
  return json.result
}
