import { decodeAddress, encodeAddress } from '../../core/address.ts'
import { formatAmount } from '../../core/amount.ts'
import { encodeHeaderData, type Block } from '../../core/block.ts'
import { parseCid, type CID } from '../../core/cbor.ts'
import { BlockError, CointsError, DecodeError } from '../../core/errors.ts'
import { fromHex, toHex } from '../../core/hash.ts'
import { bitsToTarget, difficultyOf } from '../../core/pow.ts'
import { Tx } from '../../core/tx.ts'
import type { TemplateGenerator } from '../../miner/block-template.ts'
import { nonceOffset } from '../../miner/header-template.ts'
import type { ChainReader, ChainWriter, MempoolView } from '../../chain/ports.ts'
import type { MempoolFile } from '../../chain/mempool-file.ts'
import type { BlockEntry } from '../../chain/types.ts'
import type { ChainResults, HeaderView, RawBlockView, SubmittedBlock } from '../contract/chain.ts'
import { ParamsError } from '../params.ts'
import type { Handlers } from './types.ts'

export interface ChainMethodsContext {
  /** Read, and changed by blocks and transactions submitted (and verifychain's flush). */
  chain: ChainReader & ChainWriter
  mempool: MempoolView
  /** Bytes of the chain database's files (size_on_disk), measured up to a few seconds ago. */
  sizeOnDisk: () => Promise<number>
  /** Mines n blocks now to the address (or the configured one); returns their ids. */
  generate: (n: number, address?: string) => Promise<string[]>
  templates: Pick<TemplateGenerator, 'newTemplate'>
  /** The hash a template pays when given no address: the configured miner address, else a wallet address kept until a block pays it. */
  templateAddress: (address?: string) => Promise<Uint8Array>
  /** Publishes a submitted block to peers, when networking runs. */
  relayBlock: (block: Block) => void
  /** Where the mempool is kept across restarts. */
  mempoolFile: MempoolFile
  /** Height of the best header known (a sync under way may be ahead of the tip). */
  headersHeight: () => number
  /** Height of a transaction's block as this node's wallet knows it (null: unconfirmed; undefined: not the wallet's). */
  walletTxHeight: (txid: string) => number | null | undefined
  /** Whether this node mines, and the address it pays when it does. */
  mining: () => { mining: boolean, address?: string }
}

/** A tip older than this means the node is still catching up (Bitcoin Core's default max tip age). */
const MAX_TIP_AGE_SECONDS = 24 * 60 * 60
/** Blocks the network hash rate is estimated over by default (as Core's getnetworkhashps). */
const HASHPS_BLOCKS = 120
/** Most blocks one submitblocks call takes. */
const MAX_SUBMITTED = 1_000
/** A getrawblocks reply stops after about this many bytes of blocks (twice that in hex, within a client's reach). */
const RAW_BLOCKS_BYTES = 4_000_000

function notFound (what: string): CointsError {
  return new CointsError('NOT_FOUND', what)
}

/**
 * A block's header fields and standing in Bitcoin Core's getblockheader shape
 * (merkleroot: the CID of the transaction list, coints' commitment to the
 * transactions; confirmations -1 off the best chain), with coints' status:
 * active, valid-fork or invalid. nTx when the block's transactions are held.
 */
async function headerView (chain: ChainReader, cid: CID): Promise<HeaderView> {
  const info = chain.blockInfo(cid.toString())
  const header = await chain.getHeader(cid)
  if (info === undefined || header === undefined) throw notFound(`block ${cid.toString()}`)
  const h = header.data
  const active = info.validity === 'active'
  const next = active ? chain.getEntryAt(h.height + 1)?.idString : undefined
  const block = info.validity === 'invalid' ? undefined : await chain.getBlock(cid)
  return {
    hash: header.idString,
    confirmations: active ? chain.height - h.height + 1 : -1,
    height: h.height,
    version: h.version,
    merkleroot: h.txs.toString(),
    time: h.time,
    mediantime: medianTimeOf(chain, info.entry),
    nonce: toHex(h.nonce),
    bits: h.bits.toString(16),
    difficulty: difficultyOf(h.bits, chain.params.powLimitBits),
    chainwork: chainworkHex(info.entry),
    ...(block === undefined ? {} : { nTx: block.txs.length }),
    ...(h.prev === null ? {} : { previousblockhash: h.prev.toString() }),
    ...(next === undefined ? {} : { nextblockhash: next }),
    status: info.validity
  }
}

function decodeHex (hex: string, what: string): Uint8Array {
  try {
    return fromHex(hex)
  } catch {
    throw new CointsError('BAD_HEX', `${what} must be a hex string of whole bytes`)
  }
}

/** Median of the times of a block and the 10 before it (Bitcoin's median time past), for any valid block. */
function medianTimeOf (chain: ChainReader, entry: BlockEntry): number {
  const times: number[] = []
  for (let e: BlockEntry | undefined = entry; e !== undefined && times.length < chain.params.medianTimeSpan; e = e.prev === null ? undefined : chain.getEntry(e.prev)) times.push(e.time)
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]
}

/**
 * Hashes per second over the `blocks` best-chain blocks up to `height`: their
 * work over the span of their timestamps, as Bitcoin Core's getnetworkhashps.
 * Genesis stays out: its time is fixed, not mined.
 */
export function networkHashPs (chain: ChainReader, blocks = HASHPS_BLOCKS, height = chain.height): number {
  const last = chain.getEntryAt(height)
  const first = chain.getEntryAt(Math.max(1, height - blocks))
  if (last === undefined || first === undefined || last.height <= first.height) return 0
  let min = first.time
  let max = first.time
  for (let h = first.height + 1; h <= last.height; h++) {
    const time = chain.getEntryAt(h)?.time ?? min
    if (time < min) min = time
    if (time > max) max = time
  }
  return max > min ? Number(last.chainwork - first.chainwork) / (max - min) : 0
}

function chainworkHex (entry: BlockEntry): string {
  return entry.chainwork.toString(16).padStart(64, '0')
}

/** Blockchain, mempool and mining methods: the contract later tests and the CLI drive. */
export function chainMethods (ctx: ChainMethodsContext): Handlers<keyof ChainResults> {
  const { chain, mempool } = ctx
  const difficulty = (bits: number): number => difficultyOf(bits, chain.params.powLimitBits)
  /** Confirmations of a valid block: -1 off the best chain, as Core. */
  const confirmationsOf = (entry: BlockEntry): number => chain.isOnBestChain(entry.idString) ? chain.height - entry.height + 1 : -1
  // Bitcoin Core's latch: once caught up, the node is out of initial block download for good.
  let caughtUp = false
  const initialBlockDownload = (): boolean => {
    caughtUp ||= ctx.headersHeight() <= chain.height && chain.tip.time >= Date.now() / 1000 - MAX_TIP_AGE_SECONDS
    return !caughtUp
  }
  /** The best-chain block holding a transaction, when it can be found without a transaction index. */
  const blockOf = async (tx: Tx, given: string | undefined): Promise<BlockEntry | undefined> => {
    if (given !== undefined) {
      const entry = chain.getEntry(parseCid(given).toString())
      const block = entry === undefined ? undefined : await chain.getBlock(entry.id)
      if (entry === undefined || block === undefined) throw notFound(`block ${given}`)
      if (!block.txs.some(t => t.idString === tx.idString)) throw notFound(`transaction ${tx.idString} in block ${given}`)
      return entry
    }
    if (mempool.has(tx.idString)) return undefined
    if (tx.isCoinbase) {
      const entry = chain.getEntryAt(tx.data.height ?? -1)
      const block = entry === undefined ? undefined : await chain.getBlock(entry.id)
      if (block?.txs[0].idString === tx.idString) return entry
    }
    // An unspent output carries its block's height; else the wallet may know it.
    const coins = await chain.getCoins(tx.data.outputs.map((_, i) => `${tx.idString}:${i}`))
    const height = [...coins.values()][0]?.height ?? ctx.walletTxHeight(tx.idString)
    return height === null || height === undefined ? undefined : chain.getEntryAt(height)
  }
  return {
    getblockchaininfo: async () => {
      const tip = chain.tip
      const headers = ctx.headersHeight()
      return {
        chain: chain.params.name,
        blocks: tip.height,
        headers,
        bestblockhash: tip.idString,
        difficulty: difficulty(tip.bits),
        time: tip.time,
        mediantime: chain.medianTimePast(),
        verificationprogress: headers === 0 ? 1 : tip.height / headers,
        initialblockdownload: initialBlockDownload(),
        chainwork: chainworkHex(tip),
        size_on_disk: await ctx.sizeOnDisk(),
        pruned: false,
        warnings: '',
        network: chain.params.name,
        height: tip.height,
        tip: tip.idString
      }
    },
    getblockcount: async () => chain.height,
    getbestblockhash: async () => chain.tip.idString,
    getblockhash: async ({ height }) => {
      const entry = chain.getEntryAt(height)
      if (entry === undefined) throw notFound(`no block at height ${height} (best height ${chain.height})`)
      return entry.idString
    },
    getblock: async ({ id }) => {
      const cid = parseCid(id)
      const view = await headerView(chain, cid)
      const { status } = view
      if (status === 'invalid') return { ...view, status }
      const block = await chain.getBlock(cid)
      if (block === undefined) throw notFound(`block ${id}`)
      return { ...view, status, size: block.size, txs: block.txs.map(tx => tx.idString) }
    },
    getblockheader: async ({ id, verbose }) => {
      const cid = parseCid(id)
      if (verbose !== false) return await headerView(chain, cid)
      const header = await chain.getHeader(cid)
      if (header === undefined) throw notFound(`block ${id}`)
      return toHex(header.bytes)
    },
    getrawtransaction: async ({ txid, verbose, blockhash }) => {
      const tx = await chain.getTx(parseCid(txid))
      if (tx === undefined) throw notFound(`transaction ${txid}`)
      const entry = await blockOf(tx, blockhash)
      if (verbose !== true) return toHex(tx.bytes)
      const confirmations = entry === undefined ? undefined : confirmationsOf(entry)
      return {
        txid: tx.idString,
        hex: toHex(tx.bytes),
        size: tx.bytes.length,
        version: tx.data.version,
        coinbase: tx.isCoinbase,
        inputs: tx.data.inputs.map(i => ({ txid: i.prev.txid.toString(), index: i.prev.index })),
        outputs: tx.data.outputs.map((o, n) => ({ n, amount: formatAmount(o.amount), address: encodeAddress(chain.params.addressPrefix, o.address) })),
        inmempool: mempool.has(tx.idString),
        ...(blockhash === undefined ? {} : { in_active_chain: confirmations !== undefined && confirmations > 0 }),
        ...(entry === undefined ? {} : { blockhash: entry.idString, confirmations: Math.max(0, confirmationsOf(entry)), time: entry.time, blocktime: entry.time })
      }
    },
    gettxoutsetinfo: async () => {
      const s = chain.utxoSummary()
      return { height: s.height, tip: s.tip, txouts: s.txouts, total_amount: formatAmount(s.total) }
    },
    getmempoolinfo: async () => ({
      loaded: ctx.mempoolFile.loaded,
      size: mempool.size,
      bytes: mempool.bytes,
      usage: mempool.usage,
      maxbytes: mempool.maxBytes,
      minfeerate: mempool.minFeeRate
    }),
    savemempool: async () => await ctx.mempoolFile.save(),
    getrawmempool: async () => [...mempool.entries()].map(e => e.tx.idString),
    sendrawtransaction: async ({ hex }) => {
      const tx = Tx.fromBytes(decodeHex(hex, 'transaction'))
      await chain.acceptTx(tx, undefined, 'rpc')
      return tx.idString
    },
    generate: async ({ n, address }) => await ctx.generate(n, address),
    getblocktemplate: async ({ address }) => {
      const template = await ctx.templates.newTemplate(await ctx.templateAddress(address))
      const headerBytes = encodeHeaderData(template.header)
      return {
        height: template.header.height,
        prev: template.header.prev?.toString() ?? null,
        time: template.header.time,
        bits: template.header.bits.toString(16),
        target: bitsToTarget(template.header.bits).toString(16).padStart(64, '0'),
        fees: formatAmount(template.fees),
        header: toHex(headerBytes),
        nonce_offset: nonceOffset(headerBytes),
        txs: template.txs.map(tx => toHex(tx.bytes))
      }
    },
    submitblock: async ({ hex }) => {
      const block = chain.decodeBlock(decodeHex(hex, 'block'))
      const result = await chain.processBlock(block, { source: 'rpc' })
      // Relayed only once on our best chain, as gossip forwards blocks.
      if (result.status === 'connected') ctx.relayBlock(block)
      return { id: block.idString, ...result }
    },
    submitblocks: async ({ hexes }) => {
      if (!Array.isArray(hexes) || hexes.length > MAX_SUBMITTED || !hexes.every(h => typeof h === 'string')) throw new ParamsError('BAD_PARAM', `submitblocks param "hexes" must be an array of at most ${MAX_SUBMITTED} hex strings`)
      const results: SubmittedBlock[] = []
      for (const hex of hexes) {
        let block: Block | undefined
        try {
          block = chain.decodeBlock(decodeHex(hex, 'block'))
          const result = await chain.processBlock(block)
          if (result.status === 'connected') ctx.relayBlock(block)
          results.push({ id: block.idString, ...result })
        } catch (err) {
          if (!(err instanceof BlockError || err instanceof DecodeError) && !(err instanceof CointsError && err.code === 'BAD_HEX')) throw err
          results.push({ ...(block === undefined ? {} : { id: block.idString }), error: { code: err.code, message: err.message } })
        }
      }
      return results
    },
    getrawblocks: async ({ height, count }) => {
      const ids: CID[] = []
      for (let h = height; h <= chain.height && ids.length < (count ?? 1_000); h++) ids.push((chain.getEntryAt(h) as BlockEntry).id)
      const blocks: RawBlockView[] = []
      let bytes = 0
      // A few at a time, so full blocks past the reply's size are never read.
      for (let at = 0; at < ids.length && bytes < RAW_BLOCKS_BYTES; at += 16) {
        for (const wire of await chain.getBlocksWire(ids.slice(at, at + 16))) {
          if (blocks.length > 0 && bytes + wire.length > RAW_BLOCKS_BYTES) return blocks
          bytes += wire.length
          blocks.push({ height: height + blocks.length, id: ids[blocks.length].toString(), hex: toHex(wire) })
        }
      }
      return blocks
    },
    getmininginfo: async () => {
      const { mining, address } = ctx.mining()
      return {
        blocks: chain.height,
        difficulty: difficulty(chain.tip.bits),
        networkhashps: networkHashPs(chain),
        pooledtx: mempool.size,
        chain: chain.params.name,
        warnings: '',
        mining,
        ...(address === undefined ? {} : { mineraddress: address })
      }
    },
    getnetworkhashps: async ({ nblocks, height }) => {
      if (height !== undefined && height > chain.height) throw notFound(`no block at height ${height} (best height ${chain.height})`)
      return networkHashPs(chain, nblocks, height)
    },
    validateaddress: async ({ address }) => {
      try {
        const hash = decodeAddress(chain.params.addressPrefix, address)
        return { isvalid: true, address: encodeAddress(chain.params.addressPrefix, hash), isscript: false, iswitness: true, witness_version: 0, witness_program: toHex(hash) }
      } catch (err) {
        return { isvalid: false, error: err instanceof CointsError ? err.reason : String(err) }
      }
    },
    getchainstats: async () => ({ orphans: chain.stats.orphans, reorgs: chain.stats.reorgs, maxreorgdepth: chain.stats.maxReorgDepth }),
    getarrivals: async ({ ids }) => {
      if (!Array.isArray(ids) || ids.length > 10_000 || !ids.every(id => typeof id === 'string')) throw new CointsError('BAD_IDS', 'ids must be a list of at most 10000 id strings')
      return ids.map(id => chain.stats.arrival(id) ?? null)
    },
    verifychain: async () => {
      const r = await chain.verifyChain()
      return { ok: r.ok, height: r.height, txouts: r.txouts, total_amount: formatAmount(r.total), mismatches: r.mismatches }
    }
  }
}
