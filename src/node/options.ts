import { homedir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_DBCACHE_MB } from '../chain/cache-sizes.ts'
import { getNetwork, type NetworkName } from '../core/params.ts'
import type { LogFormat, LogLevel } from '../log.ts'
import type { RelayClientMode } from '../p2p/nat-service.ts'

/** Everything a node is started with; the CLI fills it from flags, a config file and defaults. */
export interface NodeOptions {
  network: NetworkName
  datadir: string
  rpcPort: number
  /** The loopback address RPC listens on, where the cookie works. */
  rpcHost: string
  /** Further addresses RPC listens on (`10.0.0.5`, `0.0.0.0:9443`, `[::]`): only rpcAuth credentials work there. */
  rpcBind: string[]
  /** Salted RPC credentials, `user:salt$hmac` as Bitcoin Core's rpcauth. */
  rpcAuth: string[]
  /** Where the HTTP server (explorer, /metrics, gateway) listens; undefined: off (--no-http), and so are the metrics. */
  http: { host: string, port: number } | undefined
  mine: boolean
  /** Address (bech32, version 0) the miner pays; a wallet address is used when absent and a wallet exists. */
  minerAddress?: string
  minerThreads: number
  /** Peer-to-peer networking; off only in tests of the chain alone. */
  p2p: boolean
  listen: string[]
  bootstrap: string[]
  mdns: boolean
  /** Serve the chain's blocks over bitswap on the peer-to-peer libp2p. */
  bitswap: boolean
  maxPeers: number
  /** Addresses announced to peers instead of the listen addresses (a forwarded port, a public IP the node cannot see). */
  announce: string[]
  /** STUN server URLs for WebRTC's ICE (stun:host:port); none by default. */
  stun: string[]
  /** Map the listen port on the router by UPnP IGD (default on, off for regtest). */
  upnp: boolean
  /** Relay for others (circuit relay v2, with limits) once publicly reachable. */
  relayService: boolean
  /** Reserve on relays: auto (once private), on (always) or off. */
  relayClient: RelayClientMode
  mempoolMaxBytes: number
  /** Signature-verification threads (default: one per core; 0: on the main thread). */
  verifierThreads?: number
  /** MiB of memory for the database caches: LevelDB's and the coins held in front of it (--dbcache, Bitcoin Core's -dbcache). */
  dbcacheMb: number
  /** How often peers are asked for their chain status, in ms. */
  statusIntervalMs?: number
  /** Seconds added to the system clock, for tests of nodes whose clocks disagree (Bitcoin Core's -mocktime). */
  clockOffset?: number
  /** Default fee rate of wallet sends, base units per byte. */
  feeRate: number
  logLevel: LogLevel
  /** text, or one JSON object a line (--log-format json). */
  logFormat: LogFormat
  /** Also append the log here (--log-file). */
  logFile?: string
  /** Rebuild the block index, UTXO set and undo data from the stored blocks at start (--reindex). */
  reindex: boolean
  /** Best-chain blocks verified at start (--checkblocks; 0: all). */
  checkBlocks: number
  /** Free space kept on the datadir's disk, in MB (--min-free-mb): below it the node shuts down. */
  minFreeMb: number
  /** Keep an address index (--addrindex): the explorer's address pages, and any transaction's block. */
  addrIndex: boolean
}

export function defaultDatadir (network: NetworkName): string {
  return join(homedir(), '.coints', network)
}

export function defaultNodeOptions (network: NetworkName): NodeOptions {
  const params = getNetwork(network)
  return {
    network,
    datadir: defaultDatadir(network),
    rpcPort: params.defaultRpcPort,
    rpcHost: '127.0.0.1',
    rpcBind: [],
    rpcAuth: [],
    http: { host: '127.0.0.1', port: params.defaultHttpPort },
    mine: false,
    minerThreads: 1,
    p2p: true,
    listen: [`/ip4/0.0.0.0/tcp/${params.defaultPort}`],
    bootstrap: [],
    mdns: params.mdns,
    bitswap: true,
    maxPeers: 32,
    announce: [],
    stun: [],
    // UPnP searches for routers by SSDP multicast on every interface: regtest runs tests and swarms on loopback, where it has none to find.
    upnp: network !== 'regtest',
    relayService: true,
    relayClient: 'auto',
    mempoolMaxBytes: 64_000_000,
    dbcacheMb: DEFAULT_DBCACHE_MB,
    feeRate: 2,
    logLevel: 'info',
    logFormat: 'text',
    reindex: false,
    checkBlocks: 6,
    minFreeMb: 50,
    addrIndex: false
  }
}
