import type { BlockValidity, ProcessResult } from '../../chain/types.ts'
import { anyParam } from '../params.ts'
import type { AmountText, MethodDoc } from './types.ts'

/** getblockheader's view of a block (Bitcoin Core's, with coints' status); nTx when its transactions are held. */
export interface HeaderView {
  hash: string
  /** -1 off the best chain. */
  confirmations: number
  height: number
  version: number
  /** The CID of the transaction list: coints' commitment to the transactions. */
  merkleroot: string
  time: number
  mediantime: number
  /** Hex. */
  nonce: string
  /** Hex. */
  bits: string
  difficulty: number
  /** Hex, 64 digits. */
  chainwork: string
  nTx?: number
  previousblockhash?: string
  nextblockhash?: string
  status: BlockValidity
}

/** getblock: an invalid block by its header alone, any other with its size and txids. */
export type BlockView = (HeaderView & { status: 'invalid', size?: undefined, txs?: undefined }) | (HeaderView & { status: 'active' | 'valid-fork', size: number, txs: string[] })

export interface BlockchainInfo {
  chain: string
  blocks: number
  headers: number
  bestblockhash: string
  difficulty: number
  time: number
  mediantime: number
  verificationprogress: number
  initialblockdownload: boolean
  chainwork: string
  size_on_disk: number
  pruned: false
  warnings: string
  network: string
  height: number
  tip: string
}

/** Verbose getrawtransaction; the block's fields once it is known. */
export interface RawTransactionView {
  txid: string
  hex: string
  size: number
  version: number
  coinbase: boolean
  inputs: Array<{ txid: string, index: number }>
  outputs: Array<{ n: number, amount: AmountText, address: string }>
  inmempool: boolean
  /** When a blockhash was given. */
  in_active_chain?: boolean
  blockhash?: string
  confirmations?: number
  time?: number
  blocktime?: number
}

export interface TxOutSetInfo { height: number, tip: string, txouts: number, total_amount: AmountText }

export interface MempoolInfo { loaded: boolean, size: number, bytes: number, usage: number, maxbytes: number, minfeerate: number }

export interface BlockTemplateView {
  height: number
  prev: string | null
  time: number
  /** Hex. */
  bits: string
  /** Hex, 64 digits. */
  target: string
  fees: AmountText
  /** Hex of the header's DAG-CBOR bytes with a zero nonce. */
  header: string
  nonce_offset: number
  /** Hex of each transaction's bytes, the coinbase first. */
  txs: string[]
}

export type SubmitBlockResult = { id: string } & ProcessResult

/** One block of submitblocks: its status as submitblock's, or why it was refused (no id when it did not decode). */
export type SubmittedBlock = SubmitBlockResult | { id?: string, error: { code: string, message: string } }

/** A best-chain block as getrawblocks answers it: hex of its wire form, which submitblock takes. */
export interface RawBlockView { height: number, id: string, hex: string }

export interface MiningInfo {
  blocks: number
  difficulty: number
  networkhashps: number
  pooledtx: number
  chain: string
  warnings: string
  mining: boolean
  mineraddress?: string
}

export type AddressValidation =
  | { isvalid: true, address: string, isscript: false, iswitness: true, witness_version: 0, witness_program: string, error?: undefined }
  | { isvalid: false, error: string }

export interface ChainStatsView { orphans: number, reorgs: number, maxreorgdepth: number }

export interface VerifyChainView { ok: boolean, height: number, txouts: number, total_amount: AmountText, mismatches: string[] }

/** What each blockchain, mempool and mining method answers. */
export interface ChainResults {
  getblockchaininfo: BlockchainInfo
  getblockcount: number
  getbestblockhash: string
  getblockhash: string
  getblock: BlockView
  /** verbose false: hex of the header's DAG-CBOR bytes. */
  getblockheader: HeaderView | string
  /** Hex of the transaction's bytes; verbose: its decoded form. */
  getrawtransaction: string | RawTransactionView
  gettxoutsetinfo: TxOutSetInfo
  getmempoolinfo: MempoolInfo
  savemempool: { txs: number, bytes: number }
  getrawmempool: string[]
  sendrawtransaction: string
  generate: string[]
  getblocktemplate: BlockTemplateView
  submitblock: SubmitBlockResult
  submitblocks: SubmittedBlock[]
  getrawblocks: RawBlockView[]
  getmininginfo: MiningInfo
  getnetworkhashps: number
  validateaddress: AddressValidation
  getchainstats: ChainStatsView
  /** Ms since the epoch, or null, for each id asked. */
  getarrivals: Array<number | null>
  verifychain: VerifyChainView
}

/** Blockchain, mempool and mining methods: what `help` says of each and the params the server validates. */
export const CHAIN_METHODS = {
  getblockchaininfo: {
    description: 'State of the chain, as Bitcoin Core\'s: chain (the network), blocks (best height), headers (best header known, ahead while syncing), bestblockhash, difficulty, time and mediantime of the tip, verificationprogress (blocks / headers), initialblockdownload, chainwork, size_on_disk (bytes of the chain database files, measured at most every 5 s), pruned (always false), warnings. Also network, height and tip (the same as chain, blocks and bestblockhash).',
    params: []
  },
  getblockcount: {
    description: 'Height of the best chain (blocks after genesis).',
    params: []
  },
  getbestblockhash: {
    description: 'Id (CID) of the best chain\'s tip.',
    params: []
  },
  getblockhash: {
    description: 'Id of the best-chain block at a height.',
    params: [{ name: 'height', type: 'integer', min: 0 }]
  },
  getblock: {
    description: 'A block by id: its header (as getblockheader) with size and txs (Core\'s tx: the txids); an invalid block is answered by its header alone.',
    params: [{ name: 'id', type: 'string' }]
  },
  getblockheader: {
    description: 'A block header by id, as Bitcoin Core\'s: {hash, confirmations (-1 off the best chain), height, version, merkleroot (coints: the CID of the transaction list, its commitment to the transactions), time, mediantime, nonce (hex), bits (hex), difficulty, chainwork, nTx, previousblockhash, nextblockhash} and coints\' status: active, valid-fork or invalid (an invalid block has no nTx); verbose false: hex of the header\'s DAG-CBOR bytes.',
    params: [{ name: 'id', type: 'string' }, { name: 'verbose', type: 'boolean', optional: true }]
  },
  getrawtransaction: {
    description: 'A transaction (mempool or stored) as hex of its DAG-CBOR bytes; verbose adds its decoded form: {txid, hex, size, version, coinbase, inputs: [{txid, index}], outputs: [{n, amount, address}], inmempool} and, once its block is known, blockhash, confirmations, time and blocktime (in_active_chain too when blockhash is given). coints keeps no transaction index: the block is found from the blockhash param, a coinbase\'s height, an unspent output or this node\'s wallet.',
    params: [{ name: 'txid', type: 'string' }, { name: 'verbose', type: 'boolean', optional: true }, { name: 'blockhash', type: 'string', optional: true }]
  },
  gettxoutsetinfo: {
    description: 'UTXO set summary: {height, tip, txouts, total_amount}.',
    params: []
  },
  getmempoolinfo: {
    description: 'Mempool size, bytes (serialised), usage (estimated memory, which maxbytes bounds), limit and minimum fee rate; loaded: whether the mempool saved at the last stop has been loaded again.',
    params: []
  },
  savemempool: {
    description: 'Writes the mempool to mempool.dat in the datadir now (it is written at stop and soon after it changes: a second after, or up to 5 minutes for a large pool): {txs, bytes}.',
    params: []
  },
  getrawmempool: {
    description: 'Ids of the mempool transactions.',
    params: []
  },
  sendrawtransaction: {
    description: 'Validates a transaction (hex of its DAG-CBOR bytes) and adds it to the mempool, which announces it to peers; returns its id.',
    params: [{ name: 'hex', type: 'string' }]
  },
  generate: {
    description: 'Mines n blocks now (to the address, or the configured miner address); returns their ids.',
    params: [{ name: 'n', type: 'integer', min: 1, max: 10_000 }, { name: 'address', type: 'string', optional: true }]
  },
  getblocktemplate: {
    description: 'A block to mine: the encoded block with a zero nonce, where its header and nonce sit, and the target.',
    params: [{ name: 'address', type: 'string', optional: true }]
  },
  submitblock: {
    description: 'Validates and stores a block (hex of its wire form: {header, txs}); returns its status (connected, side, orphan, known); relayed to peers once connected.',
    params: [{ name: 'hex', type: 'string' }]
  },
  submitblocks: {
    description: 'coints: submitblock for a batch (at most 1,000 hex wire forms, in order), as `coints import` feeds a CAR file: each block is validated and stored as by submitblock, a refused one does not stop the rest; returns for each {id, status} or {id?, error: {code, message}}.',
    params: [anyParam<string[]>('hexes')]
  },
  getrawblocks: {
    description: 'coints: best-chain blocks from a height on, as `coints export` reads them: [{height, id, hex}] (hex: the wire form submitblock takes), at most count (default 1,000) and about 4 MB of blocks; fewer past the tip.',
    params: [{ name: 'height', type: 'integer', min: 0 }, { name: 'count', type: 'integer', optional: true, min: 1, max: 1_000 }]
  },
  getmininginfo: {
    description: 'Mining state, as Bitcoin Core\'s: blocks, difficulty, networkhashps (estimated over the last 120 blocks), pooledtx, chain, warnings; and (coints) mining with the address it pays.',
    params: []
  },
  getnetworkhashps: {
    description: 'Estimated hashes per second of the network: the work of the last nblocks (default 120) best-chain blocks up to height (default the tip) over the span of their timestamps.',
    params: [{ name: 'nblocks', type: 'integer', optional: true, min: 1, max: 1_000_000 }, { name: 'height', type: 'integer', optional: true, min: 0 }]
  },
  validateaddress: {
    description: 'Whether an address is valid on this network: {isvalid, address, isscript, iswitness, witness_version, witness_program} (Bitcoin Core\'s, without scriptPubKey: coints has no scripts), or {isvalid: false, error}.',
    params: [{ name: 'address', type: 'string', max: 200 }]
  },
  getchainstats: {
    description: 'Orphans and reorganisations seen since start: {orphans, reorgs, maxreorgdepth}.',
    params: []
  },
  getarrivals: {
    description: 'When recent blocks or transactions (by id) first reached this node, in ms since the epoch (null if unknown).',
    params: [anyParam<string[]>('ids')]
  },
  verifychain: {
    description: 'Recomputes the UTXO set from the stored blocks and compares it with the stored one.',
    params: []
  }
} as const satisfies Record<keyof ChainResults, MethodDoc>
