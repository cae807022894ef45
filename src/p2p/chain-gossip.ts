import type { Block } from '../core/block.ts'
import { cidOf } from '../core/cbor.ts'
import { BlockError, DecodeError, TxError } from '../core/errors.ts'
import { sha256 } from '../core/hash.ts'
import { genesisBlock, type NetworkParams } from '../core/params.ts'
import { Tx } from '../core/tx.ts'
import type { Chain } from '../chain/chain.ts'
import { HARMLESS_BLOCK_ERRORS, type GossipTransport, type GossipVerdict, type PeerPolicy } from './transport.ts'
import type { Logger } from '../log.ts'

export interface GossipTopics {
  blocks: string
  txs: string
}

/** Topics named after the network and its genesis id, so that networks never mix. */
export function gossipTopics (params: NetworkParams): GossipTopics {
  const prefix = `coints/${params.name}/${genesisBlock(params).idString}`
  return { blocks: `${prefix}/blocks`, txs: `${prefix}/txs` }
}

/**
 * Gossip message ids hash the whole message (a transaction's id is its CID), so
 * a block or transaction is dropped as a duplicate whoever re-sends it. Not a
 * block's header alone: gossipsub marks an id seen before validating its
 * message, so a copy of a new block with its genuine header and altered
 * transactions would shut the genuine block out for the seen cache's lifetime.
 */
export function gossipMessageId (topics: GossipTopics, topic: string, data: Uint8Array): Uint8Array {
  return topic === topics.txs ? cidOf(data).bytes : sha256(data)
}

export interface ChainGossipComponents {
  chain: Chain
  transport: GossipTransport
  peers: PeerPolicy
  logger: Logger
  /** Called with a peer whose block we could not connect (parent unknown). */
  onOrphan: (peer: string) => void
}

/** Codes of transactions that may become valid later or are simply redundant: ignored, not punished. */
const HARMLESS_TX_ERRORS = new Set<string>(['ALREADY_KNOWN', 'MISSING_INPUT', 'CONFLICT', 'MEMPOOL_FULL', 'FEE_TOO_LOW', 'IMMATURE_SPEND'])

/**
 * Blocks and transactions over gossipsub. Each message is decoded and validated
 * by the chain before gossipsub forwards it: valid → accept; invalid → reject
 * (the sender's score drops and it is penalised); known or not yet connectable → ignore.
 */
export class ChainGossip {
  readonly #c: ChainGossipComponents
  readonly topics: GossipTopics

  constructor (components: ChainGossipComponents) {
    this.#c = components
    this.topics = gossipTopics(components.chain.params)
  }

  start (): void {
    this.#c.transport.subscribe(this.topics.blocks, async (data, from) => await this.validateBlock(data, from))
    this.#c.transport.subscribe(this.topics.txs, async (data, from) => await this.validateTx(data, from))
  }

  stop (): void {
    this.#c.transport.unsubscribe(this.topics.blocks)
    this.#c.transport.unsubscribe(this.topics.txs)
  }

  async publishBlock (block: Block): Promise<void> {
    await this.#c.transport.publish(this.topics.blocks, block.encode())
  }

  async publishTx (tx: Tx): Promise<void> {
    await this.#c.transport.publish(this.topics.txs, tx.bytes)
  }

  async validateBlock (data: Uint8Array, from: string): Promise<GossipVerdict> {
    const { chain } = this.#c
    let block: Block
    try {
      block = chain.decodeBlock(data)
    } catch (err) {
      return this.#reject(from, `undecodable block: ${(err as Error).message}`)
    }
    if (chain.hasBlock(block.idString)) return 'ignore'
    try {
      const result = await chain.processBlock(block)
      if (result.status === 'orphan') {
        this.#c.onOrphan(from)
        return 'ignore'
      }
      return result.status === 'known' ? 'ignore' : 'accept'
    } catch (err) {
      if (err instanceof BlockError && !HARMLESS_BLOCK_ERRORS.has(err.code)) return this.#reject(from, `invalid block ${block.idString}: ${err.message}`)
      if (err instanceof BlockError || err instanceof DecodeError) return 'ignore'
      throw err
    }
  }

  async validateTx (data: Uint8Array, from: string): Promise<GossipVerdict> {
    const { chain } = this.#c
    let tx: Tx
    try {
      tx = Tx.fromBytes(data)
    } catch (err) {
      return this.#reject(from, `undecodable transaction: ${(err as Error).message}`)
    }
    if (chain.mempool.has(tx.idString)) return 'ignore'
    try {
      await chain.acceptTx(tx)
      return 'accept'
    } catch (err) {
      if (err instanceof TxError && !HARMLESS_TX_ERRORS.has(err.code)) return this.#reject(from, `invalid transaction ${tx.idString}: ${err.message}`)
      if (err instanceof TxError) return 'ignore'
      throw err
    }
  }

  #reject (from: string, reason: string): GossipVerdict {
    this.#c.logger.debug(`rejecting gossip from ${from}: ${reason}`)
    this.#c.peers.penalise(from, reason)
    return 'reject'
  }
}
