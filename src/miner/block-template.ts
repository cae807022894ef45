import { BLOCK_VERSION, encodeTxList, NONCE_BYTES, type HeaderData } from '../core/block.ts'
import { cidOf } from '../core/cbor.ts'
import { subsidyAt } from '../core/params.ts'
import { Tx, TX_VERSION } from '../core/tx.ts'
import type { ChainReader, TemplateSource } from '../chain/ports.ts'

/** A block to mine: its header with a zero nonce, its transactions (the coinbase first), and the fees its coinbase claims. */
export interface BlockTemplate {
  header: HeaderData
  txs: Tx[]
  fees: bigint
}

/** What templates read of the chain. */
export type TemplateChain = Pick<ChainReader, 'params' | 'medianTimePast' | 'nextBits'> & TemplateSource

export interface TemplateGeneratorComponents {
  chain: TemplateChain
  /** Clock in seconds: the chain's, so a block is never too new for it. */
  now: () => number
}

/** Room kept in a template for the header and the coinbase. */
const RESERVE_BYTES = 1_000

/**
 * Block templates on the chain's tip (btcd's mining.BlkTmplGenerator): the
 * mempool's packages by ancestor fee rate, chosen in the chain's turn, then a
 * coinbase paying the subsidy and their fees, and a header on the tip they
 * were chosen for: its time past the tip's median time past, the bits the
 * chain requires of a block there.
 */
export class TemplateGenerator {
  readonly #c: TemplateGeneratorComponents

  constructor (components: TemplateGeneratorComponents) {
    this.#c = components
  }

  /** A block on the current tip whose coinbase pays `address` (a hash160). */
  async newTemplate (address: Uint8Array): Promise<BlockTemplate> {
    const { chain, now } = this.#c
    const { params } = chain
    const { parent, entries } = await chain.selectForBlock(params.maxBlockBytes - RESERVE_BYTES)
    const height = parent.height + 1
    const fees = entries.reduce((s, e) => s + e.fee, 0n)
    const coinbase = Tx.create({ version: TX_VERSION, height, inputs: [], outputs: [{ amount: subsidyAt(params, height) + fees, address }] })
    const txs = [coinbase, ...entries.map(e => e.tx)]
    const header: HeaderData = {
      version: BLOCK_VERSION,
      height,
      prev: parent.id,
      txs: cidOf(encodeTxList(txs)),
      time: Math.max(now(), chain.medianTimePast(parent) + 1),
      bits: chain.nextBits(parent),
      nonce: new Uint8Array(NONCE_BYTES)
    }
    return { header, txs, fees }
  }
}
