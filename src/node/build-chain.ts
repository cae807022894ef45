import { cacheSizes, DEFAULT_DBCACHE_MB } from '../chain/cache-sizes.ts'
import { Chain, type ChainInit } from '../chain/chain.ts'
import { Mempool } from '../chain/mempool.ts'
import type { MempoolView } from '../chain/ports.ts'
import { SignatureVerifier } from '../chain/sig-verifier.ts'
import { ChainStore, type ChainStoreInit } from '../chain/store.ts'
import { chainTag, genesisBlock } from '../core/params.ts'
import type { Logger } from '../log.ts'

/** Everything a chain service is built from (the node fills it from its options; tests and benchmarks from theirs). */
export interface ChainOptions extends ChainInit {
  /** Directory of the LevelDB database. */
  dbPath: string
  /** Signature-verification threads (default: one per core; 0: on the calling thread). */
  verifierThreads?: number
  /** MiB for the database caches, LevelDB's and the coins' (Bitcoin Core's -dbcache; default 100); an explicit coinsCache wins over its share. */
  dbcacheMb?: number
  mempoolMaxBytes?: number
  minFeeRate?: number
  /** Free bytes kept on the database's disk: below them the chain halts (default 50 MB). */
  minFreeBytes?: number
  /** Bytes kept free on top of minFreeBytes for what the node writes as it stops (see ChainStoreInit). */
  reserveBytes?: () => number
  /** fsync each flush (default true); off only to measure what it costs. */
  syncFlushes?: boolean
}

export interface BuildChainComponents {
  logger?: Logger
  /** Makes the store (a test's own, to watch or fail its writes). */
  store?: (path: string, init: ChainStoreInit) => ChainStore
}

/**
 * A chain service with the parts it is built of: its consumers get the chain's
 * ports, only the one who built it holds these. The mempool is its view: the
 * chain alone holds the pool itself and changes it (eslint.config.js bars the
 * class outside src/chain but here, where it is made).
 */
export interface ChainParts {
  chain: Chain
  store: ChainStore
  mempool: MempoolView
  verifier: SignatureVerifier
}

/** Builds the store, the signature verifier and the mempool, and the chain over them. */
export function buildChain (options: ChainOptions, components: BuildChainComponents = {}): ChainParts {
  const { params } = options
  const makeStore = components.store ?? ((path, init) => new ChainStore(path, init))
  const caches = cacheSizes(options.dbcacheMb ?? DEFAULT_DBCACHE_MB)
  const store = makeStore(options.dbPath, {
    leveldb: caches.leveldb,
    marker: { network: params.name, genesis: genesisBlock(params).idString },
    minFreeBytes: options.minFreeBytes,
    reserveBytes: options.reserveBytes,
    syncFlushes: options.syncFlushes
  })
  const verifier = new SignatureVerifier({ threads: options.verifierThreads })
  const mempool = new Mempool({ params, chainTag: chainTag(params), verifier }, { maxBytes: options.mempoolMaxBytes, minFeeRate: options.minFeeRate })
  const chain = new Chain({ store, mempool, verifier, logger: components.logger }, { ...options, coinsCache: { ...caches.coins, ...options.coinsCache } })
  return { chain, store, mempool, verifier }
}
