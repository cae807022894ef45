import { encodeAddress } from '../core/address.ts'
import { Block } from '../core/block.ts'
import { ChainError, type ChainEventSource, type ChainReader, type ChainWriter } from '../chain/ports.ts'
import type { Logger } from '../log.ts'
import type { TemplateGenerator } from './block-template.ts'
import { NonceSearcher } from './nonce-search.ts'
import { SerialQueue } from '../util/serial-queue.ts'
import type { Startable } from '../util/startable.ts'

export interface MinerComponents {
  /** Followed for new tips; found blocks go through its processing. */
  chain: ChainEventSource & Pick<ChainReader, 'params'> & Pick<ChainWriter, 'processBlock'>
  templates: Pick<TemplateGenerator, 'newTemplate'>
  logger: Logger
  /** Told of every block this miner found and the chain accepted (to publish it). */
  onBlockMined?: (block: Block) => void
}

export interface MinerInit {
  threads?: number
  /** Templates are rebuilt this often, to take in new transactions and a fresh time. */
  retemplateMs?: number
}

/**
 * The miner: builds a template on the tip, searches nonces on a worker, and
 * submits what it finds. A new tip aborts the search at once, so work restarts
 * on the new tip within milliseconds. Continuous mining and `generate` share
 * one searcher, one search at a time.
 */
export class Miner implements Startable {
  readonly #c: MinerComponents
  readonly #retemplateMs: number
  readonly searcher: NonceSearcher
  #mining = false
  /** The hash160 continuous mining pays. */
  #payee: Uint8Array | undefined
  #loop: Promise<void> | undefined
  /** Searches take turns through this queue. */
  readonly #queue = new SerialQueue()
  #retemplate: NodeJS.Timeout | undefined
  readonly #onTip = (): void => { this.searcher.abort() }

  constructor (components: MinerComponents, init: MinerInit = {}) {
    this.#c = components
    this.#retemplateMs = init.retemplateMs ?? 5_000
    this.searcher = new NonceSearcher({ threads: init.threads })
  }

  /** Nothing to open: the searcher's workers start with its first search. */
  async start (): Promise<void> {}

  /** Ends mining; a `generate` under way fails with MinerError('STOPPED') at its next search. */
  async stop (): Promise<void> {
    this.stopMining()
    await this.#loop
    await this.searcher.stop()
    // A block found before the stop finishes connecting before the chain can stop.
    await this.#queue.idle()
  }

  get mining (): boolean { return this.#mining }
  /** The hash160 continuous mining pays, while it runs. */
  get payee (): Uint8Array | undefined { return this.#mining ? this.#payee : undefined }

  /** Mines continuously, coinbases paying `address` (a hash160). */
  startMining (address: Uint8Array): void {
    if (this.#mining) return
    this.#mining = true
    this.#payee = address
    this.#c.logger.info(`mining on ${this.searcher.threads} thread${this.searcher.threads === 1 ? '' : 's'}, paying ${encodeAddress(this.#c.chain.params.addressPrefix, address)}`)
    this.#c.chain.on('tip', this.#onTip)
    this.#retemplate = setInterval(() => { this.searcher.abort() }, this.#retemplateMs)
    this.#loop = this.#run(address)
  }

  stopMining (): void {
    if (!this.#mining) return
    this.#mining = false
    clearInterval(this.#retemplate)
    this.#c.chain.off('tip', this.#onTip)
    this.searcher.abort()
  }

  async #run (address: Uint8Array): Promise<void> {
    while (this.#mining) {
      try {
        await this.#mineOne(address)
      } catch (err) {
        // A stopped chain takes no more blocks: mining on would only spin.
        if (err instanceof ChainError) {
          this.#c.logger.info(`mining stopped: ${err.message}`)
          this.stopMining()
        } else {
          this.#c.logger.warn(`mining attempt failed: ${(err as Error).message}`)
        }
      }
    }
  }

  /** Mines n blocks one after another (RPC generate); the continuous loop waits meanwhile. */
  async mineBlocks (n: number, address: Uint8Array): Promise<Block[]> {
    const blocks: Block[] = []
    this.searcher.abort()
    while (blocks.length < n) {
      const block = await this.#mineOne(address)
      if (block !== undefined) blocks.push(block)
    }
    return blocks
  }

  /** One search on the current tip; the block when found and accepted. */
  async #mineOne (address: Uint8Array): Promise<Block | undefined> {
    return await this.#queue.run(async () => {
      const template = await this.#c.templates.newTemplate(address)
      const header = await this.searcher.search(template.header)
      if (header === null) return undefined
      const block = new Block(header, template.txs)
      const result = await this.#c.chain.processBlock(block, { source: 'miner' })
      if (result.status !== 'connected') return undefined
      this.#c.logger.debug(`mined block ${block.height} ${block.idString} (${block.txs.length} txs), paying ${encodeAddress(this.#c.chain.params.addressPrefix, address)}`)
      this.#c.onBlockMined?.(block)
      return block
    })
  }
}
