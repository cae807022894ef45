/**
 * What the explorer's JSON says of blocks, transactions, the mempool, peers and
 * the node: each view reads a bounded amount (a block, a page of its
 * transactions, a transaction's inputs), never a walk of the chain.
 */
import { encodeAddress } from '../../core/address.ts'
import { formatAmount } from '../../core/amount.ts'
import type { Block } from '../../core/block.ts'
import { parseCid, type CID } from '../../core/cbor.ts'
import { subsidyAt } from '../../core/params.ts'
import { difficultyOf } from '../../core/pow.ts'
import type { Tx } from '../../core/tx.ts'
import { toHex } from '../../core/hash.ts'
import type { BlockEntry, BlockValidity } from '../../chain/types.ts'
import { preferredConnection, type PeerInfoView } from '../../p2p/peer-report.ts'
import { HttpError } from '../respond.ts'
import type { ExplorerChain, ExplorerSources } from './types.ts'

/** Transactions a block page lists at once. */
export const TXS_PER_PAGE = 50
/** Inputs of a transaction whose spent coins are looked up (each a read); past it the fee is not computed. */
export const MAX_INPUTS_READ = 500
/** Blocks a list holds at most. */
export const MAX_BLOCKS_LISTED = 25

/** Where a block stands, as the page says it: on the best chain, stale (a valid branch with less work), or invalid. */
export function standingOf (validity: BlockValidity): 'best' | 'stale' | 'invalid' {
  return validity === 'active' ? 'best' : validity === 'valid-fork' ? 'stale' : 'invalid'
}

export interface BlockSummary {
  height: number
  id: string
  time: number
  txs: number
  size: number
  /** What the coinbase claimed beyond the subsidy: the fees it took. */
  fees: string
  standing: 'best' | 'stale' | 'invalid'
}

/** Block summaries by id (blocks never change): a list of the last blocks reads each block once. */
const SUMMARY_CACHE = 2_000

export class BlockSummaries {
  readonly #chain: ExplorerChain
  readonly #cache = new Map<string, Omit<BlockSummary, 'standing'>>()

  constructor (chain: ExplorerChain) {
    this.#chain = chain
  }

  /** Summary of a stored valid block (its standing read now: a reorganisation changes it). */
  async of (entry: BlockEntry, block?: Block): Promise<BlockSummary> {
    const standing = standingOf(this.#chain.blockInfo(entry.idString)?.validity ?? 'invalid')
    const cached = this.#cache.get(entry.idString)
    if (cached !== undefined) return { ...cached, standing }
    const read = block ?? await this.#chain.getBlock(entry.id)
    if (read === undefined) throw new HttpError('NOT_FOUND', `block ${entry.idString} is not stored`)
    const summary = { height: entry.height, id: entry.idString, time: entry.time, txs: read.txs.length, size: read.size, fees: formatAmount(claimedFees(this.#chain, read)) }
    if (this.#cache.size >= SUMMARY_CACHE) this.#cache.delete(this.#cache.keys().next().value as string)
    this.#cache.set(entry.idString, summary)
    return { ...summary, standing }
  }

  /** The best chain's blocks from `from` down, at most `count`. */
  async list (from: number, count: number): Promise<BlockSummary[]> {
    const out: BlockSummary[] = []
    for (let h = Math.min(from, this.#chain.height); h >= 0 && out.length < Math.min(count, MAX_BLOCKS_LISTED); h--) {
      const entry = this.#chain.getEntryAt(h)
      if (entry !== undefined) out.push(await this.of(entry))
    }
    return out
  }
}

/** The coinbase's outputs beyond the subsidy: the fees the block's miner took (all of them, as coints's miner does). */
function claimedFees (chain: ExplorerChain, block: Block): bigint {
  const coinbase = block.txs[0]
  const out = coinbase.data.outputs.reduce((s, o) => s + o.amount, 0n)
  const extra = out - subsidyAt(chain.params, block.height)
  return extra > 0n ? extra : 0n
}

function cidOrRefuse (text: string, what: string): CID {
  try {
    return parseCid(text)
  } catch {
    throw new HttpError('BAD_REQUEST', `not a ${what} id: ${text.slice(0, 80)}`)
  }
}

export async function blockView (s: ExplorerSources, summaries: BlockSummaries, idText: string, page: number): Promise<unknown> {
  const { chain } = s
  const cid = cidOrRefuse(idText, 'block')
  const info = chain.blockInfo(cid.toString())
  if (info === undefined) throw new HttpError('NOT_FOUND', `no block ${cid.toString()} here`)
  const header = await chain.getHeader(cid)
  if (header === undefined) throw new HttpError('NOT_FOUND', `no block ${cid.toString()} here`)
  const h = header.data
  const standing = standingOf(info.validity)
  const children = chain.childrenOf(info.entry.idString).map(c => ({ id: c.entry.idString, standing: standingOf(c.validity) }))
  const base = {
    id: info.entry.idString,
    height: h.height,
    standing,
    confirmations: standing === 'best' ? chain.height - h.height + 1 : 0,
    time: h.time,
    version: h.version,
    bits: h.bits.toString(16),
    difficulty: difficultyOf(h.bits, chain.params.powLimitBits),
    nonce: toHex(h.nonce),
    chainwork: info.entry.chainwork.toString(16),
    txsRoot: h.txs.toString(),
    parent: h.prev?.toString() ?? null,
    children
  }
  // An invalid block keeps only its header.
  if (standing === 'invalid') return base
  const block = await chain.getBlock(cid)
  if (block === undefined) throw new HttpError('NOT_FOUND', `block ${cid.toString()} is not stored`)
  const summary = await summaries.of(info.entry, block)
  const pages = Math.max(1, Math.ceil(block.txs.length / TXS_PER_PAGE))
  const at = Math.min(Math.max(0, page), pages - 1)
  return {
    ...base,
    size: block.size,
    fees: summary.fees,
    txCount: block.txs.length,
    page: at,
    pages,
    txs: block.txs.slice(at * TXS_PER_PAGE, (at + 1) * TXS_PER_PAGE).map(tx => txLine(chain, tx))
  }
}

/** A transaction in a list: what it sends, without reading what it spends. */
function txLine (chain: ExplorerChain, tx: Tx): unknown {
  return {
    txid: tx.idString,
    coinbase: tx.isCoinbase,
    size: tx.bytes.length,
    inputs: tx.data.inputs.length,
    outputs: tx.data.outputs.length,
    amount: formatAmount(tx.data.outputs.reduce((sum, o) => sum + o.amount, 0n)),
    to: tx.data.outputs.slice(0, 3).map(o => encodeAddress(chain.params.addressPrefix, o.address))
  }
}

export async function txView (s: ExplorerSources, idText: string): Promise<unknown> {
  const { chain } = s
  const cid = cidOrRefuse(idText, 'transaction')
  const tx = await chain.getTx(cid)
  if (tx === undefined) throw new HttpError('NOT_FOUND', `no transaction ${cid.toString()} here`)
  const prefix = chain.params.addressPrefix
  const inMempool = s.mempool.has(tx.idString)
  const entry = inMempool ? undefined : await blockOf(s, tx)
  // The coins spent: each input's previous transaction's output (stored by its id), up to a bound.
  const read = tx.data.inputs.slice(0, MAX_INPUTS_READ)
  const inputs = await Promise.all(read.map(async input => {
    const prev = await chain.getTx(input.prev.txid)
    const out = prev?.data.outputs[input.prev.index]
    return { txid: input.prev.txid.toString(), index: input.prev.index, amount: out === undefined ? null : formatAmount(out.amount), address: out === undefined ? null : encodeAddress(prefix, out.address), value: out?.amount }
  }))
  const outTotal = tx.data.outputs.reduce((sum, o) => sum + o.amount, 0n)
  const allRead = inputs.length === tx.data.inputs.length && inputs.every(i => i.value !== undefined)
  const fee = tx.isCoinbase || !allRead ? undefined : inputs.reduce((sum, i) => sum + (i.value ?? 0n), 0n) - outTotal
  // Which outputs are still unspent (on the best chain; a mempool transaction's are all unspent there).
  const unspent = await chain.getCoins(tx.data.outputs.map((_, n) => `${tx.idString}:${n}`))
  return {
    txid: tx.idString,
    size: tx.bytes.length,
    version: tx.data.version,
    coinbase: tx.isCoinbase,
    inMempool,
    block: entry === undefined ? null : { id: entry.idString, height: entry.height, time: entry.time },
    confirmations: entry === undefined ? 0 : chain.height - entry.height + 1,
    blockKnown: inMempool || entry !== undefined,
    addrIndex: s.addrIndex !== undefined,
    fee: fee === undefined ? null : formatAmount(fee),
    feeRate: fee === undefined ? null : Number(fee) / tx.bytes.length,
    inputs: inputs.map(({ value: _value, ...rest }) => rest),
    inputsShown: inputs.length,
    inputCount: tx.data.inputs.length,
    outputs: tx.data.outputs.map((o, n) => ({ n, amount: formatAmount(o.amount), address: encodeAddress(prefix, o.address), spent: entry === undefined && !inMempool ? null : !unspent.has(`${tx.idString}:${n}`) && !inMempool })),
    total: formatAmount(outTotal)
  }
}

/**
 * The best-chain block of a confirmed transaction, as far as it can be found:
 * the address index when on, else a coinbase's height or an unspent output's
 * (coints keeps no transaction index of its own).
 */
async function blockOf (s: ExplorerSources, tx: Tx): Promise<BlockEntry | undefined> {
  const { chain } = s
  const holds = async (entry: BlockEntry | undefined): Promise<boolean> => {
    if (entry === undefined) return false
    const block = await chain.getBlock(entry.id)
    return block?.txs.some(t => t.idString === tx.idString) === true
  }
  const indexed = await s.addrIndex?.txHeight(tx.idString)
  if (indexed !== undefined) {
    const entry = chain.getEntryAt(indexed)
    if (await holds(entry)) return entry
  }
  if (tx.isCoinbase) {
    const entry = chain.getEntryAt(tx.data.height ?? -1)
    if (entry !== undefined && (await chain.getBlock(entry.id))?.txs[0].idString === tx.idString) return entry
  }
  const coins = await chain.getCoins(tx.data.outputs.map((_, n) => `${tx.idString}:${n}`))
  const height = [...coins.values()][0]?.height
  const entry = height === undefined ? undefined : chain.getEntryAt(height)
  return await holds(entry) ? entry : undefined
}

/** What the explorer's header and front page show of the node. */
export async function statusView (s: ExplorerSources, summaries: BlockSummaries): Promise<unknown> {
  const { chain, mempool, network } = s
  return {
    version: s.version,
    network: chain.params.name,
    height: chain.height,
    headers: network?.headersHeight() ?? chain.height,
    tip: await summaries.of(chain.tip),
    difficulty: difficultyOf(chain.tip.bits, chain.params.powLimitBits),
    targetBlockTime: chain.params.targetBlockTime,
    utxo: { outputs: chain.utxoSummary().txouts, total: formatAmount(chain.utxoSummary().total) },
    orphans: chain.orphanCount,
    mempool: { count: mempool.size, bytes: mempool.bytes, usage: mempool.usage, maxUsage: mempool.maxBytes },
    peers: network?.peers().length ?? null,
    sync: network?.sync() ?? null,
    addrIndex: s.addrIndex?.status() ?? null
  }
}

/** A row of the peers page: the peer by its preferred connection (getpeerinfo's addr: a direct one before a relayed one). */
export interface PeerRow {
  peerId: string
  addr: string
  direction: string
  height: number | null
  /** tcp, webrtc, circuit or other (src/p2p/addresses.ts transportOf). */
  transport: string
  /** Round trip in ms, as libp2p's connection monitor last measured it. */
  pingMs: number | null
  /** When it connected, ms since the epoch. */
  since: number
}

function peerRow (peer: PeerInfoView): PeerRow {
  const conn = preferredConnection(peer)
  return { peerId: peer.peerId, addr: peer.addr, direction: peer.direction, height: peer.height, transport: conn.transport, pingMs: conn.rttMs, since: conn.startTime }
}

export function peersView (s: ExplorerSources): unknown {
  const { network } = s
  if (network === undefined) return { networking: false, peerId: null, addresses: [], peers: [] }
  return { networking: true, peerId: network.peerId(), addresses: network.addresses(), peers: network.peers().map(peerRow) }
}
