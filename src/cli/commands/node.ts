import { flushCompileCache } from 'node:module'
import { multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_DBCACHE_MB, MAX_DBCACHE_MB, MIN_DBCACHE_MB } from '../../chain/cache-sizes.ts'
import { CointsError } from '../../core/errors.ts'
import { configureLogging, isLogFormat, isLogLevel, LOG_FORMATS, LOG_LEVELS } from '../../log.ts'
import { defaultNodeOptions, type NodeOptions } from '../../node/options.ts'
import { parseRpcAuth } from '../../rpc/auth.ts'
import { parseRpcBind } from '../../rpc/server.ts'
import { quoted } from '../../core/text.ts'
import { parseHostPort } from '../../util/host-port.ts'
import type { RelayClientMode } from '../../p2p/nat-service.ts'
import { helpText, intFlag, parseFlags, UsageError, type Command } from '../command.ts'
import { onStopSignal } from '../signals.ts'
import { networkOf, readConfig } from './common.ts'

const flags = {
  network: { type: 'string' },
  datadir: { type: 'string' },
  config: { type: 'string' },
  'rpc-port': { type: 'string' },
  'rpc-bind': { type: 'string', multiple: true },
  'rpc-auth': { type: 'string', multiple: true },
  http: { type: 'string' },
  'no-http': { type: 'boolean' },
  mine: { type: 'boolean' },
  'miner-address': { type: 'string' },
  'miner-threads': { type: 'string' },
  'verifier-threads': { type: 'string' },
  dbcache: { type: 'string' },
  'clock-offset': { type: 'string' },
  listen: { type: 'string', multiple: true },
  bootstrap: { type: 'string', multiple: true },
  mdns: { type: 'boolean' },
  bitswap: { type: 'boolean' },
  'max-peers': { type: 'string' },
  announce: { type: 'string', multiple: true },
  stun: { type: 'string', multiple: true },
  upnp: { type: 'boolean' },
  'relay-service': { type: 'boolean' },
  'relay-client': { type: 'boolean' },
  p2p: { type: 'boolean' },
  'mempool-max-bytes': { type: 'string' },
  'fee-rate': { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  'log-file': { type: 'string' },
  reindex: { type: 'boolean' },
  checkblocks: { type: 'string' },
  'min-free-mb': { type: 'string' },
  addrindex: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
} as const

/** Each value as `parse` reads it, a failure becoming a usage error naming the flag. */
function checkEach (flag: string, values: string[], parse: (value: string) => unknown): string[] {
  for (const value of values) {
    try {
      parse(value)
    } catch (err) {
      throw new UsageError('BAD_FLAGS', `--${flag}: ${err instanceof CointsError ? err.reason : (err as Error).message}`)
    }
  }
  return values
}

/** A listen address coints can use: a TCP multiaddr (`/ip4/0.0.0.0/tcp/9444`). */
function checkListen (text: string): void {
  let address
  try {
    address = multiaddr(text)
  } catch (err) {
    throw new CointsError('BAD_MULTIADDR', `${JSON.stringify(text)} is not a multiaddr (${(err as Error).message}); e.g. /ip4/0.0.0.0/tcp/9444`)
  }
  const protocols = address.getComponents().map(c => c.name)
  if (!['ip4', 'ip6'].includes(protocols[0]) || protocols[1] !== 'tcp' || protocols.length !== 2) throw new CointsError('BAD_MULTIADDR', `${text}: coints listens on TCP only, e.g. /ip4/0.0.0.0/tcp/9444 or /ip6/::/tcp/9444`)
}

/** A peer to dial: a multiaddr that names the peer (`…/p2p/12D3Koo…`). */
function checkBootstrap (text: string): void {
  let address
  try {
    address = multiaddr(text)
  } catch (err) {
    throw new CointsError('BAD_MULTIADDR', `${JSON.stringify(text)} is not a multiaddr (${(err as Error).message})`)
  }
  if (address.getComponents().at(-1)?.name !== 'p2p') throw new CointsError('BAD_MULTIADDR', `${text} does not end in /p2p/<peerId> (a node prints its addresses in coints rpc getnetworkinfo)`)
}

/** --http HOST[:PORT] (false: --no-http, or `"http": false` in a config file). */
function httpOf (value: unknown, fallback: NodeOptions['http']): NodeOptions['http'] {
  if (value === undefined || value === true) return fallback
  if (value === false) return undefined
  const address = typeof value === 'string' ? parseHostPort(value) : undefined
  if (address === undefined) throw new UsageError('BAD_FLAGS', `--http must be an IP address with an optional port (e.g. 127.0.0.1:9445, [::1]:9445), got ${quoted(value)}`)
  return { host: address.host, port: address.port ?? fallback?.port ?? 0 }
}

/** An address to announce: any multiaddr peers can dial (`/ip4/203.0.113.7/tcp/9444`, `/dns4/node.example.org/tcp/9444`). */
function checkAnnounce (text: string): void {
  try {
    multiaddr(text)
  } catch (err) {
    throw new CointsError('BAD_MULTIADDR', `${JSON.stringify(text)} is not a multiaddr (${(err as Error).message}); e.g. /ip4/203.0.113.7/tcp/9444`)
  }
}

/** A STUN URL as RTCPeerConnection takes it (RFC 7064): stun:host[:port]. */
function checkStun (url: string): void {
  if (!/^stuns?:(\[[0-9a-fA-F:.]+\]|[^\s:/?#[\]]+)(:\d{1,5})?$/.test(url)) throw new CointsError('BAD_STUN_URL', `${url} is not a STUN URL (stun:host or stun:host:port)`)
}

/** --relay-client reserves on relays always, --no-relay-client never; left out, a node reserves once it finds itself private. */
function relayClientOf (flag: boolean | undefined): RelayClientMode | undefined {
  return flag === undefined ? undefined : flag ? 'on' : 'off'
}

/** Merges defaults, the config file and flags (flags win) into NodeOptions. */
export async function nodeOptionsFrom (values: Record<string, unknown>): Promise<NodeOptions> {
  const config = typeof values.config === 'string' ? await readConfig(values.config) : {}
  for (const key of Object.keys(config)) {
    if (!(key in flags) || key === 'config' || key === 'help' || key === 'no-http') throw new UsageError('BAD_CONFIG', `unknown key "${key}" in config file ${String(values.config)}`)
  }
  const v: Record<string, unknown> = { ...config, ...Object.fromEntries(Object.entries(values).filter(([, x]) => x !== undefined)) }
  const strings = (key: string): string[] | undefined => {
    const x = v[key]
    if (x === undefined) return undefined
    const list = Array.isArray(x) ? x : [x]
    if (!list.every(s => typeof s === 'string')) throw new UsageError('BAD_CONFIG', `${key} must be a string or a list of strings`)
    return list as string[]
  }
  const bool = (key: string): boolean | undefined => {
    const x = v[key]
    if (x !== undefined && typeof x !== 'boolean') throw new UsageError('BAD_CONFIG', `${key} must be true or false`)
    return x
  }
  const str = (key: string): string | undefined => {
    const x = v[key]
    if (x !== undefined && typeof x !== 'string') throw new UsageError('BAD_CONFIG', `${key} must be a string`)
    return x
  }
  const options = defaultNodeOptions(networkOf(v.network))
  const logLevel = v['log-level'] ?? options.logLevel
  if (!isLogLevel(logLevel)) throw new UsageError('BAD_FLAGS', `--log-level must be one of ${LOG_LEVELS.join(', ')}`)
  const logFormat = v['log-format'] ?? options.logFormat
  if (!isLogFormat(logFormat)) throw new UsageError('BAD_FLAGS', `--log-format must be one of ${LOG_FORMATS.join(', ')}`)
  const rpcBind = checkEach('rpc-bind', strings('rpc-bind') ?? [], parseRpcBind)
  const rpcAuth = checkEach('rpc-auth', strings('rpc-auth') ?? [], parseRpcAuth)
  const http = httpOf(v.http, options.http)
  if (rpcBind.length > 0 && rpcAuth.length === 0) throw new UsageError('BAD_FLAGS', '--rpc-bind needs --rpc-auth (make one with: coints rpcauth USER): the cookie is for this machine only')
  return {
    ...options,
    datadir: str('datadir') ?? options.datadir,
    rpcPort: intFlag('rpc-port', v['rpc-port'], 0, 65_535) ?? options.rpcPort,
    rpcBind,
    rpcAuth,
    http,
    mine: bool('mine') ?? options.mine,
    minerAddress: str('miner-address'),
    minerThreads: intFlag('miner-threads', v['miner-threads'], 1, 64) ?? options.minerThreads,
    verifierThreads: intFlag('verifier-threads', v['verifier-threads'], 0, 64) ?? options.verifierThreads,
    dbcacheMb: intFlag('dbcache', v.dbcache, MIN_DBCACHE_MB, MAX_DBCACHE_MB) ?? options.dbcacheMb,
    clockOffset: intFlag('clock-offset', v['clock-offset'], -86_400, 86_400) ?? options.clockOffset,
    p2p: bool('p2p') ?? options.p2p,
    listen: checkEach('listen', strings('listen') ?? options.listen, checkListen),
    bootstrap: checkEach('bootstrap', strings('bootstrap') ?? options.bootstrap, checkBootstrap),
    mdns: bool('mdns') ?? options.mdns,
    bitswap: bool('bitswap') ?? options.bitswap,
    maxPeers: intFlag('max-peers', v['max-peers'], 1, 1_000) ?? options.maxPeers,
    announce: checkEach('announce', strings('announce') ?? options.announce, checkAnnounce),
    stun: checkEach('stun', strings('stun') ?? options.stun, checkStun),
    upnp: bool('upnp') ?? options.upnp,
    relayService: bool('relay-service') ?? options.relayService,
    relayClient: relayClientOf(bool('relay-client')) ?? options.relayClient,
    mempoolMaxBytes: intFlag('mempool-max-bytes', v['mempool-max-bytes'], 100_000, 4_000_000_000) ?? options.mempoolMaxBytes,
    feeRate: intFlag('fee-rate', v['fee-rate'], 1, 1_000_000) ?? options.feeRate,
    logLevel,
    logFormat,
    logFile: str('log-file'),
    reindex: bool('reindex') ?? options.reindex,
    checkBlocks: intFlag('checkblocks', v.checkblocks, 0, 100_000_000) ?? options.checkBlocks,
    minFreeMb: intFlag('min-free-mb', v['min-free-mb'], 0, 1_000_000) ?? options.minFreeMb,
    addrIndex: bool('addrindex') ?? options.addrIndex
  }
}

/** NodeOptions from a `coints node` command line (also a node group's start order: the same flags mean the same). */
export async function nodeOptionsOfArgs (argv: string[]): Promise<NodeOptions> {
  return await nodeOptionsFrom(parseFlags(nodeCommand, argv, flags).values)
}

export const nodeCommand: Command = {
  name: 'node',
  summary: 'Runs a coints node: chain, mempool, miner, peer-to-peer networking and JSON-RPC. Logs go to stderr; Ctrl-C (SIGINT), SIGTERM or SIGHUP stops it cleanly, and so does the end of bin/coints.js that started it.',
  usage: 'coints node [options]',
  flags: [
    ['--network regtest|lan', 'network (default lan: 10 s blocks, mDNS on; regtest: instant blocks for tests)'],
    ['--datadir DIR', 'data directory (default ~/.coints/<network>)'],
    ['--config FILE', 'JSON file whose keys are these flags\' names (flags override it); see config/'],
    ['--rpc-port N', 'JSON-RPC port on 127.0.0.1 (default 9443 lan, 19443 regtest), written to <datadir>/.rpcport for coints rpc'],
    ['--rpc-bind ADDR[:PORT]', 'also listen for RPC there (repeatable; 0.0.0.0 for every interface): needs --rpc-auth'],
    ['--rpc-auth USER:SALT$HMAC', 'a salted RPC credential (repeatable; coints rpcauth USER makes one): the only login off this machine'],
    ['--http HOST[:PORT]', 'the HTTP server for people and tools: the explorer at /, Prometheus metrics at /metrics (default 127.0.0.1:9445 lan, 19445 regtest; nothing it serves is secret)'],
    ['--no-http', 'no HTTP server (and no metrics)'],
    ['--mine', 'mine continuously (needs --miner-address or a wallet)'],
    ['--miner-address ADDR', 'address the mined coinbases pay'],
    ['--miner-threads N', 'nonce-search threads (default 1)'],
    ['--verifier-threads N', 'signature-verification threads (default one per core; 0: on the main thread, no worker: for many nodes on one machine, as a block\'s signatures then hold up everything else while they verify)'],
    ['--dbcache MB', `memory for the database caches, MiB: LevelDB's block cache and write buffers (up to 16) and the coins held in memory (the rest), as Bitcoin Core's -dbcache (default ${DEFAULT_DBCACHE_MB}, at least ${MIN_DBCACHE_MB})`],
    ['--clock-offset S', 'seconds added to the system clock (tests of nodes whose clocks disagree, as Bitcoin Core\'s -mocktime)'],
    ['--listen MULTIADDR', 'listen address, repeatable (default /ip4/0.0.0.0/tcp/9444 lan, 19444 regtest)'],
    ['--bootstrap MULTIADDR', 'peer to connect to and redial, repeatable (with /p2p/<peerId>)'],
    ['--mdns, --no-mdns', 'find peers on the LAN by mDNS (default on for lan, off for regtest)'],
    ['--bitswap, --no-bitswap', 'serve the chain\'s blocks to IPFS peers over bitswap (default on)'],
    ['--max-peers N', 'most connections (default 32)'],
    ['--announce MULTIADDR', 'address peers are told to dial, instead of the listen addresses (a forwarded port), repeatable'],
    ['--stun URL', 'STUN server for WebRTC hole punching between NATs (stun:host:port), repeatable (default none, and then no WebRTC: without STUN it would connect only hosts on one network, which TCP already does)'],
    ['--upnp, --no-upnp', 'map the listen port on the router by UPnP IGD where it offers it (default on for lan, off for regtest)'],
    ['--no-relay-service', 'do not relay for private peers (default: a publicly reachable node is a circuit relay v2 server, with limits)'],
    ['--relay-client, --no-relay-client', 'reserve on relays so that private peers can reach this node: always, or never (default: once it finds itself unreachable)'],
    ['--no-p2p', 'run without networking'],
    ['--mempool-max-bytes N', 'mempool bound, in bytes of the entries\' estimated memory (default 64000000)'],
    ['--fee-rate N', 'default wallet fee rate, base units per byte (default 2)'],
    ['--log-level LEVEL', 'debug, info, warn, error or silent (default info; debug adds every transaction, block stage timings, requests served)'],
    ['--log-format FORMAT', 'text, or json: one object a line with time, level, module, msg and the line\'s fields (default text)'],
    ['--log-file FILE', 'also append the log to FILE (sync progress there: a line every 5 s)'],
    ['--reindex', 'rebuild the block index, UTXO set and undo data from the stored blocks (a damaged database); damaged blocks are synced again from peers'],
    ['--checkblocks N', 'best-chain blocks verified at start against the UTXO set and undo data (default 6; 0: all)'],
    ['--addrindex', 'keep an address index (<datadir>/indexes/addr, built in the background, kept through reorganisations): the explorer\'s address pages and any transaction\'s block'],
    ['--min-free-mb N', 'free disk space the node keeps; below it, it shuts down cleanly (default 50; 0: only when a write fails)']
  ],
  async run (argv) {
    const { values } = parseFlags(this, argv, flags)
    if (values.help === true) {
      console.log(helpText(this))
      return 0
    }
    const options = await nodeOptionsFrom(values)
    try {
      configureLogging({ level: options.logLevel, format: options.logFormat, file: options.logFile })
    } catch (err) {
      throw new UsageError('BAD_FLAGS', `--log-file: cannot append to ${options.logFile ?? ''}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    const { CointsNode } = await import('../../node/node.ts')
    const creating = CointsNode.create(options)
    // A closed terminal (SIGHUP) stops the node cleanly too; a second signal exits at once.
    // A signal while the node is being built stops it once built: its start then starts nothing.
    onStopSignal((signal, count) => {
      if (count > 1) {
        process.stderr.write(`${signal} again: exiting at once\n`)
        process.exit(130)
      }
      void creating.then(async node => { await node.stop() }, () => {})
    })
    const node = await creating
    try {
      await node.start()
    } catch (err) {
      await node.stop().catch(() => {})
      // Stopped by a signal while starting: a clean stop, not a failure.
      if (err instanceof CointsError && err.code === 'STOPPED_WHILE_STARTING') return 0
      throw err
    }
    // Node writes its compile cache (NODE_COMPILE_CACHE, which a swarm sets) only at exit: written once the
    // modules are loaded, the nodes started after this one load them from it and never load type stripping's
    // transpiler, which a cache miss costs in memory (some 18 MB resident) as in time; and the exit has little left to
    // write (a 16-node swarm's nodes writing theirs at once at its end outlasted its 15 s deadline and were killed).
    flushCompileCache()
    await node.stopped
    // Shut down by itself (a full disk): the reason is the exit's.
    if (node.haltReason !== undefined) throw node.haltReason
    return 0
  }
}
