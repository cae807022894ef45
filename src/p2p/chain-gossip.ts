import type { Block } from '../core/block.ts'
import { cidOf } from '../core/cbor.ts'
import { DecodeError, Verdict, type PeerVerdict } from '../core/errors.ts'
import { sha256 } from '../core/hash.ts'
import { genesisBlock, type NetworkParams } from '../core/params.ts'
import { Tx } from '../core/tx.ts'
import type { ChainReader, ChainWriter, MempoolView } from '../chain/ports.ts'
import type { GossipTransport, GossipVerdict, PeerPolicy } from './transport.ts'
import { judge, verdictOf } from './verdicts.ts'
import type { Logger } from '../log.ts'
import type { Startable } from '../util/startable.ts'

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
  /** Blocks and transactions go through its validation. */
  chain: Pick<ChainReader, 'params' | 'decodeBlock' | 'hasBlock'> & Pick<ChainWriter, 'processBlock' | 'acceptTx'>
  mempool: Pick<MempoolView, 'has'>
  transport: GossipTransport
  peers: PeerPolicy
  logger: Logger
  /** Called with a peer whose block we could not connect (parent unknown). */
  onOrphan: (peer: string) => void
  /** Called with a peer whose relayed block connected, and its height. */
  onConnected?: (peer: string, height: number) => void
}

/**
 * Blocks and transactions over gossipsub. Each message is decoded and validated
 * by the chain before gossipsub forwards it: a block that connected to our best
 * chain, a valid transaction → accept; known, not yet connectable, on a side
 * branch or with too little work to be stored (unrequested blocks) → ignore;
 * an error → its code's verdict (errors.ts), a rejection counting its weight
 * against the sender.
 */
export class ChainGossip implements Startable {
  readonly #c: ChainGossipComponents
  readonly topics: GossipTopics
  /** Verdicts given since start, by topic: for metrics. */
  readonly verdicts: Record<keyof GossipTopics, Record<GossipVerdict, number>> = {
    blocks: { accept: 0, ignore: 0, reject: 0 },
    txs: { accept: 0, ignore: 0, reject: 0 }
  }
  #started = false

  constructor (components: ChainGossipComponents) {
    this.#c = components
    this.topics = gossipTopics(components.chain.params)
  }

  async start (): Promise<void> {
    if (this.#started) return
    this.#started = true
    this.#c.transport.subscribe(this.topics.blocks, async (data, from) => this.#counted('blocks', await this.validateBlock(data, from)))
    this.#c.transport.subscribe(this.topics.txs, async (data, from) => this.#counted('txs', await this.validateTx(data, from)))
  }

  async stop (): Promise<void> {
    if (!this.#started) return
    this.#started = false
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
      return this.#judge(from, Verdict.BAN, `undecodable block: ${(err as Error).message}`)
    }
    if (chain.hasBlock(block.idString)) return 'ignore'
    try {
      const result = await chain.processBlock(block, { requested: false, source: from })
      if (result.status === 'orphan') {
        this.#c.logger.debug(`block ${block.idString} from ${from} is an orphan: its ancestry from ${result.missing ?? '?'} is missing, syncing from ${from}`)
        this.#c.onOrphan(from)
      }
      if (result.status === 'connected') this.#c.onConnected?.(from, block.height)
      // Forwarded only once on our best chain: a side block costs its sender no proof that it matters.
      return result.status === 'connected' ? 'accept' : 'ignore'
    } catch (err) {
      const verdict = verdictOf(err) ?? (err instanceof DecodeError ? Verdict.IGNORE : undefined)
      if (verdict === undefined) throw err
      return this.#judge(from, verdict, `invalid block ${block.idString}: ${(err as Error).message}`)
    }
  }

  async validateTx (data: Uint8Array, from: string): Promise<GossipVerdict> {
    const { chain } = this.#c
    let tx: Tx
    try {
      tx = Tx.fromBytes(data)
    } catch (err) {
      return this.#judge(from, Verdict.BAN, `undecodable transaction: ${(err as Error).message}`)
    }
    if (this.#c.mempool.has(tx.idString)) return 'ignore'
    try {
      await chain.acceptTx(tx, undefined, from)
      return 'accept'
    } catch (err) {
      const verdict = verdictOf(err)
      if (verdict === undefined) throw err
      return this.#judge(from, verdict, `invalid transaction ${tx.idString}: ${(err as Error).message}`)
    }
  }

  #counted (topic: keyof GossipTopics, verdict: GossipVerdict): GossipVerdict {
    this.verdicts[topic][verdict]++
    return verdict
  }

  #judge (from: string, verdict: PeerVerdict, reason: string): GossipVerdict {
    this.#c.logger.debug(`${verdict.action === 'reject' ? 'rejecting' : 'ignoring'} gossip from ${from}: ${reason}`)
    return judge(this.#c.peers, from, verdict, reason)
  }
}
