import { formatAmount } from '../../core/amount.ts'
import { encodeHeaderData, type Block } from '../../core/block.ts'
import { parseCid, type CID } from '../../core/cbor.ts'
import { CointsError } from '../../core/errors.ts'
import { fromHex, toHex } from '../../core/hash.ts'
import { bitsToTarget, difficultyOf } from '../../core/pow.ts'
import { Tx } from '../../core/tx.ts'
import { nonceOffset } from '../../miner/header-template.ts'
import type { Chain } from '../../chain/chain.ts'
import type { MempoolFile } from '../../chain/mempool-file.ts'
import type { MethodTable } from './types.ts'

export interface ChainMethodsContext {
  chain: Chain
  /** Mines n blocks now to the address (or the configured one); returns their ids. */
  generate: (n: number, address?: string) => Promise<string[]>
  /** The hash a template pays when given no address: the configured miner address, else a wallet address kept until a block pays it. */
  templateAddress: (address?: string) => Promise<Uint8Array>
  /** Publishes a submitted block to peers, when networking runs. */
  relayBlock: (block: Block) => void
  /** Where the mempool is kept across restarts. */
  mempoolFile: MempoolFile
  stop: () => void
}

function notFound (what: string): CointsError {
  return new CointsError('NOT_FOUND', what)
}

/** A block's header fields and standing, as getblockheader answers and getblock starts. */
async function headerView (chain: Chain, cid: CID): Promise<Record<string, unknown>> {
  const info = chain.blockInfo(cid.toString())
  const header = await chain.getHeader(cid)
  if (info === undefined || header === undefined) throw notFound(`block ${cid.toString()}`)
  const h = header.data
  const active = info.validity === 'active'
  return {
    id: header.idString,
    height: h.height,
    version: h.version,
    prev: h.prev?.toString() ?? null,
    next: active ? chain.getEntryAt(h.height + 1)?.idString ?? null : null,
    time: h.time,
    nonce: toHex(h.nonce),
    bits: h.bits.toString(16),
    difficulty: difficultyOf(h.bits, chain.params.powLimitBits),
    chainwork: info.entry.chainwork.toString(16).padStart(64, '0'),
    txlist: h.txs.toString(),
    status: info.validity,
    // As Bitcoin Core: -1 for a block off the best chain.
    confirmations: active ? chain.height - h.height + 1 : -1
  }
}

function decodeHex (hex: string, what: string): Uint8Array {
  try {
    return fromHex(hex)
  } catch {
    throw new CointsError('BAD_HEX', `${what} must be a hex string of whole bytes`)
  }
}

/** Blockchain, mempool and mining methods: the contract later tests and the CLI drive. */
export function chainMethods (ctx: ChainMethodsContext): MethodTable {
  const { chain } = ctx
  return {
    getblockchaininfo: {
      description: 'Network, best height and tip, cumulative work, difficulty and median time past.',
      params: [],
      handler: async () => ({
        network: chain.params.name,
        height: chain.height,
        tip: chain.tip.idString,
        chainwork: chain.tip.chainwork.toString(16).padStart(64, '0'),
        difficulty: difficultyOf(chain.tip.bits, chain.params.powLimitBits),
        mediantime: chain.medianTimePast()
      })
    },
    getblockhash: {
      description: 'Id of the best-chain block at a height.',
      params: [{ name: 'height', type: 'integer', min: 0 }],
      handler: async ({ height }) => {
        const entry = chain.getEntryAt(height as number)
        if (entry === undefined) throw notFound(`no block at height ${String(height)} (best height ${chain.height})`)
        return entry.idString
      }
    },
    getblock: {
      description: 'A block by id: its header (as getblockheader) with {size, txs: [txid]}; an invalid block is answered by its header alone.',
      params: [{ name: 'id', type: 'string' }],
      handler: async ({ id }) => {
        const cid = parseCid(id as string)
        const view = await headerView(chain, cid)
        if (view.status === 'invalid') return view
        const block = await chain.getBlock(cid)
        if (block === undefined) throw notFound(`block ${String(id)}`)
        return { ...view, size: block.size, txs: block.txs.map(tx => tx.idString) }
      }
    },
    getblockheader: {
      description: 'A block header by id: {id, height, version, prev, next, time, nonce, bits, difficulty, chainwork, txlist, status: active|valid-fork|invalid, confirmations (-1 off the best chain)}; verbose false: the header\'s hex.',
      params: [{ name: 'id', type: 'string' }, { name: 'verbose', type: 'boolean', optional: true }],
      handler: async ({ id, verbose }) => {
        const cid = parseCid(id as string)
        if (verbose !== false) return await headerView(chain, cid)
        const header = await chain.getHeader(cid)
        if (header === undefined) throw notFound(`block ${String(id)}`)
        return toHex(header.bytes)
      }
    },
    getrawtransaction: {
      description: 'A transaction (mempool or stored) as hex of its DAG-CBOR bytes; verbose adds its decoded form.',
      params: [{ name: 'txid', type: 'string' }, { name: 'verbose', type: 'boolean', optional: true }],
      handler: async ({ txid, verbose }) => {
        const tx = await chain.getTx(parseCid(txid as string))
        if (tx === undefined) throw notFound(`transaction ${String(txid)}`)
        if (verbose !== true) return toHex(tx.bytes)
        return {
          txid: tx.idString,
          hex: toHex(tx.bytes),
          size: tx.bytes.length,
          coinbase: tx.isCoinbase,
          inputs: tx.data.inputs.map(i => ({ txid: i.prev.txid.toString(), index: i.prev.index })),
          outputs: tx.data.outputs.map(o => ({ amount: formatAmount(o.amount), address: toHex(o.address) })),
          inmempool: chain.mempool.has(tx.idString)
        }
      }
    },
    gettxoutsetinfo: {
      description: 'UTXO set summary: {height, tip, txouts, total_amount}.',
      params: [],
      handler: async () => {
        const s = chain.utxoSummary()
        return { height: s.height, tip: s.tip, txouts: s.txouts, total_amount: formatAmount(s.total) }
      }
    },
    getmempoolinfo: {
      description: 'Mempool size, bytes, limit and minimum fee rate; loaded: whether the mempool saved at the last stop has been loaded again.',
      params: [],
      handler: async () => ({
        loaded: ctx.mempoolFile.loaded,
        size: chain.mempool.size,
        bytes: chain.mempool.bytes,
        maxbytes: chain.mempool.maxBytes,
        minfeerate: chain.mempool.minFeeRate
      })
    },
    savemempool: {
      description: 'Writes the mempool to mempool.dat in the datadir now (it is written at stop and every 5 minutes when it changed): {txs, bytes}.',
      params: [],
      handler: async () => await ctx.mempoolFile.save()
    },
    getrawmempool: {
      description: 'Ids of the mempool transactions.',
      params: [],
      handler: async () => [...chain.mempool.entries()].map(e => e.tx.idString)
    },
    sendrawtransaction: {
      description: 'Validates a transaction (hex of its DAG-CBOR bytes) and adds it to the mempool, which announces it to peers; returns its id.',
      params: [{ name: 'hex', type: 'string' }],
      handler: async ({ hex }) => {
        const tx = Tx.fromBytes(decodeHex(hex as string, 'transaction'))
        await chain.acceptTx(tx)
        return tx.idString
      }
    },
    generate: {
      description: 'Mines n blocks now (to the address, or the configured miner address); returns their ids.',
      params: [{ name: 'n', type: 'integer', min: 1, max: 10_000 }, { name: 'address', type: 'string', optional: true }],
      handler: async ({ n, address }) => await ctx.generate(n as number, address as string | undefined)
    },
    getblocktemplate: {
      description: 'A block to mine: the encoded block with a zero nonce, where its header and nonce sit, and the target.',
      params: [{ name: 'address', type: 'string', optional: true }],
      handler: async ({ address }) => {
        const template = await chain.blockTemplate(await ctx.templateAddress(address as string | undefined))
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
      }
    },
    submitblock: {
      description: 'Validates and stores a block (hex of its wire form: {header, txs}); returns its status (connected, side, orphan, known); relayed to peers once connected.',
      params: [{ name: 'hex', type: 'string' }],
      handler: async ({ hex }) => {
        const block = chain.decodeBlock(decodeHex(hex as string, 'block'))
        const result = await chain.processBlock(block)
        // Relayed only once on our best chain, as gossip forwards blocks.
        if (result.status === 'connected') ctx.relayBlock(block)
        return { id: block.idString, ...result }
      }
    },
    getchainstats: {
      description: 'Orphans and reorganisations seen since start: {orphans, reorgs, maxreorgdepth}.',
      params: [],
      handler: async () => ({ orphans: chain.stats.orphans, reorgs: chain.stats.reorgs, maxreorgdepth: chain.stats.maxReorgDepth })
    },
    getarrivals: {
      description: 'When recent blocks or transactions (by id) first reached this node, in ms since the epoch (null if unknown).',
      params: [{ name: 'ids', type: 'any' }],
      handler: async ({ ids }) => {
        if (!Array.isArray(ids) || ids.length > 10_000 || !ids.every(id => typeof id === 'string')) throw new CointsError('BAD_IDS', 'ids must be a list of at most 10000 id strings')
        return ids.map(id => chain.stats.arrival(id) ?? null)
      }
    },
    verifychain: {
      description: 'Recomputes the UTXO set from the stored blocks and compares it with the stored one.',
      params: [],
      handler: async () => {
        const r = await chain.verifyChain()
        return { ok: r.ok, height: r.height, txouts: r.txouts, total_amount: formatAmount(r.total_amount), mismatches: r.mismatches }
      }
    },
    stop: {
      description: 'Shuts the node down.',
      params: [],
      handler: async () => {
        setImmediate(ctx.stop)
        return 'coints node stopping'
      }
    }
  }
}
