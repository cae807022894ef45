import type { ChainReader, MempoolView } from '../../chain/ports.ts'
import type { PeerInfoView } from '../../p2p/p2p-service.ts'
import type { SyncState } from '../../p2p/sync-progress.ts'
import type { AddressHistory, AddrIndexStatus } from '../../index/addr-index.ts'

/** What the explorer reads of the chain: its read side, never a write. */
export type ExplorerChain = Pick<ChainReader,
  'params' | 'tip' | 'height' | 'on' | 'off' | 'getEntry' | 'getEntryAt' | 'blockInfo' | 'childrenOf' |
  'getHeader' | 'getBlock' | 'getTx' | 'getCoins' | 'getSpentCoins' | 'utxoSummary' | 'orphanCount'>

/** What it reads of the mempool: its figures and its transactions by id. */
export type ExplorerMempool = Pick<MempoolView, 'size' | 'bytes' | 'usage' | 'maxBytes' | 'minFeeRate' | 'get' | 'has'>

/** What it reads of networking; undefined with --no-p2p. */
export interface ExplorerNetwork {
  peerId: () => string
  addresses: () => string[]
  /** Connected peers, as getpeerinfo sees them. */
  peers: () => PeerInfoView[]
  sync: () => SyncState | undefined
  headersHeight: () => number
}

/** The address index (--addrindex); undefined when it is off. */
export interface ExplorerAddressIndex {
  status: () => AddrIndexStatus
  /** The height of the best-chain block holding a transaction, if indexed. */
  txHeight: (txid: string) => Promise<number | undefined>
  history: (hash: Uint8Array, options: { before?: string, limit: number }) => Promise<AddressHistory>
}

export interface ExplorerSources {
  chain: ExplorerChain
  mempool: ExplorerMempool
  network?: ExplorerNetwork
  addrIndex?: ExplorerAddressIndex
  version: string
}
