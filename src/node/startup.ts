/**
 * The start-up failures a user meets, each as one line saying what is wrong and
 * what to do, as Bitcoin Core's init errors ("Unable to bind to 0.0.0.0:8333 on
 * this computer. Bitcoin Core is probably already running."), instead of a
 * library's stack trace.
 */
import { createServer } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'
import { CointsError } from '../core/errors.ts'
import { parseRpcBind } from '../rpc/server.ts'
import { formatHostPort } from '../util/host-port.ts'
import type { NodeOptions } from './options.ts'

/** The node could not start; the message says why and what to do. */
export class StartupError extends CointsError {}

export interface Listener {
  host: string
  port: number
  /** The flag that sets it, for the hint. */
  flag: '--listen' | '--rpc-port' | '--rpc-bind' | '--http'
}

/** Every TCP address the node will listen on (ports 0, picked by the system, left out). */
export function listenersOf (options: NodeOptions): Listener[] {
  const rpc: Listener[] = [{ host: options.rpcHost, port: options.rpcPort, flag: '--rpc-port' }]
  for (const bind of options.rpcBind.map(parseRpcBind)) rpc.push({ host: bind.host, port: bind.port ?? options.rpcPort, flag: '--rpc-bind' })
  const p2p: Listener[] = options.p2p
    ? options.listen.map(text => {
      const [ip, tcp] = multiaddr(text).getComponents()
      return { host: ip.value ?? '', port: Number(tcp.value), flag: '--listen' as const }
    })
    : []
  const http: Listener[] = options.http === undefined ? [] : [{ ...options.http, flag: '--http' }]
  return [...rpc, ...http, ...p2p].filter(l => l.port !== 0)
}

function hintOf (listener: Listener): string {
  switch (listener.flag) {
    case '--listen': return `another peer-to-peer port: --listen /${listener.host.includes(':') ? 'ip6' : 'ip4'}/${listener.host}/tcp/PORT`
    case '--rpc-port': return 'another RPC port: --rpc-port N'
    case '--rpc-bind': return 'another RPC address: --rpc-bind ADDR:PORT'
    case '--http': return 'another HTTP address: --http HOST:PORT, or --no-http'
  }
}

/** A failed bind in Core's words, with what to do. */
export function bindError (err: NodeJS.ErrnoException, listener: Listener): StartupError {
  const where = formatHostPort(listener.host, listener.port)
  switch (err.code) {
    case 'EADDRINUSE':
      return new StartupError('PORT_IN_USE', `Unable to bind to ${where} on this computer. coints is probably already running (or give ${hintOf(listener)}).`)
    case 'EACCES':
      return new StartupError('BIND_FAILED', `Unable to bind to ${where} on this computer: permission denied (ports below 1024 need root; ${hintOf(listener)}).`)
    case 'EADDRNOTAVAIL':
      return new StartupError('BIND_FAILED', `Unable to bind to ${where} on this computer: no interface here has that address (${hintOf(listener)}).`)
    default:
      return new StartupError('BIND_FAILED', `Unable to bind to ${where} on this computer: ${err.message}.`)
  }
}

/**
 * Binds each address for a moment and lets it go: a port in use is found before
 * the chain opens, so the failure is the only line the user sees. (A port taken
 * between this check and the real bind still fails there, explained the same way.)
 */
export async function checkListeners (listeners: Listener[]): Promise<void> {
  for (const listener of listeners) {
    const server = createServer()
    const failure = await new Promise<NodeJS.ErrnoException | undefined>(resolve => {
      server.once('error', resolve)
      server.listen(listener.port, listener.host, () => { resolve(undefined) })
    })
    if (failure === undefined) {
      await new Promise(resolve => server.close(resolve))
    // Peer-to-peer: only what libp2p would fail on too (it tolerates an address family the system lacks).
    } else if (listener.flag !== '--listen' || failure.code === 'EADDRINUSE' || failure.code === 'EACCES') {
      throw bindError(failure, listener)
    }
  }
}

/** libp2p names each address it failed to listen on with the system error, in its message only. */
const LIBP2P_LISTEN_FAILURE = /^\s*(\/\S+): .*?\b(E[A-Z]+)\b/m

/**
 * A start-up error as the user should read it: bind failures (the RPC server's
 * or libp2p's), a datadir another node holds, a datadir that cannot be made.
 * Anything else is returned as it is.
 */
export function explainStartupError (err: unknown, options: NodeOptions): unknown {
  if (err instanceof CointsError) {
    // The store names the process holding the database's lock when Linux tells it; LevelDB's own error says LOCK.
    const holder = /in use by process (\d+)/.exec(err.message)?.[1]
    if (err.code === 'DB_OPEN_FAILED' && (holder !== undefined || /\bLOCK\b|temporarily unavailable/i.test(err.message))) {
      return new StartupError('DATADIR_IN_USE', `The datadir ${options.datadir} is in use by ${holder === undefined ? 'another process' : `process ${holder}`}. coints is probably already running (stop it, or give another --datadir).`)
    }
    return err
  }
  const e = err as NodeJS.ErrnoException & { address?: string, port?: number }
  if (e?.syscall === 'listen' && e.port !== undefined) {
    const listener = listenersOf(options).find(l => l.port === e.port && l.host === e.address && l.flag !== '--listen') ?? { host: e.address ?? options.rpcHost, port: e.port, flag: '--rpc-port' as const }
    return bindError(e, listener)
  }
  if (e?.name === 'UnsupportedListenAddressesError') {
    const m = LIBP2P_LISTEN_FAILURE.exec(e.message)
    const [ip, tcp] = m === null ? [] : multiaddr(m[1]).getComponents()
    if (m !== null && ip !== undefined && tcp !== undefined) return bindError({ name: 'Error', message: m[2], code: m[2] }, { host: ip.value ?? '', port: Number(tcp.value), flag: '--listen' })
    return new StartupError('BIND_FAILED', `Unable to listen on ${options.listen.join(', ')}: ${e.message.split('\n').map(l => l.trim()).filter(l => l !== '').slice(0, 2).join(' ')}`)
  }
  if (e?.syscall === 'mkdir' || (e?.code !== undefined && ['EACCES', 'EROFS', 'ENOTDIR', 'ENOSPC'].includes(e.code) && e.path?.startsWith(options.datadir) === true)) {
    const why: Record<string, string> = { EACCES: 'permission denied', ENOENT: 'no directory can be made there', ENOTDIR: 'part of its path is a file', EROFS: 'the file system is read-only', ENOSPC: 'no space left on the device' }
    return new StartupError('BAD_DATADIR', `Cannot use the datadir ${options.datadir}: ${why[e.code ?? ''] ?? e.message} (give another with --datadir).`)
  }
  return err
}
