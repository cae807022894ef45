/**
 * A chain held in memory behind the chain's ports, for testing a consumer
 * (sync, gossip) alone: no Chain, no LevelDB. It keeps one best chain of the
 * blocks it was given; processBlock connects a block on its tip, holds one
 * whose parent it lacks as an orphan, and a test replaces it to make it fail.
 */
import type { Block, Header } from '../../src/core/block.ts'
import type { CID } from '../../src/core/cbor.ts'
import { chainTag, genesisBlock } from '../../src/core/params.ts'
import { workOf } from '../../src/core/pow.ts'
import type { ChainReader, ChainWriter } from '../../src/chain/ports.ts'
import type { BlockEntry, BlockInfo, ProcessOptions, ProcessResult } from '../../src/chain/types.ts'
import { Block as BlockClass } from '../../src/core/block.ts'
import { BranchBuilder, regtest } from './chain-harness.ts'

function entryOf (block: Block, parent: BlockEntry | undefined): BlockEntry {
  const { data } = block.header
  return {
    id: block.id,
    idString: block.idString,
    prev: data.prev?.toString() ?? null,
    height: data.height,
    time: data.time,
    bits: data.bits,
    chainwork: (parent?.chainwork ?? 0n) + workOf(data.bits)
  }
}

export type FakeChainPorts = Pick<ChainReader, 'params' | 'chainTag' | 'tip' | 'height' | 'locator' | 'getEntry' | 'getEntryAt' | 'blockInfo' | 'hasBlock' | 'decodeBlock' | 'getBlocksWire' | 'getHeadersWire'> &
  Pick<ChainWriter, 'processBlock' | 'acceptTx'>

export class FakeChain implements FakeChainPorts {
  readonly params = regtest
  readonly chainTag = chainTag(regtest)
  readonly #best: Block[] = [genesisBlock(regtest)]
  readonly #entries = new Map<string, BlockEntry>()
  /** Every block handed to processBlock, with its options. */
  readonly processed: Array<{ block: Block, options?: ProcessOptions }> = []

  constructor (blocks: Block[] = []) {
    this.#entries.set(this.#best[0].idString, entryOf(this.#best[0], undefined))
    for (const block of blocks) this.#connect(block)
  }

  /** `count` coinbase-only blocks on `parent`'s chain (default: genesis), made without any chain. */
  static blocksOn (count: number, parent: Block = genesisBlock(regtest)): Block[] {
    return new BranchBuilder(regtest, { id: parent.id, height: parent.height, time: parent.header.data.time }, [parent.header.data.time]).extend(count)
  }

  get blocks (): readonly Block[] { return this.#best }
  get tip (): BlockEntry { return this.#entries.get(this.#best[this.#best.length - 1].idString) as BlockEntry }
  get height (): number { return this.#best.length - 1 }

  #connect (block: Block): void {
    this.#entries.set(block.idString, entryOf(block, this.tip))
    this.#best.push(block)
  }

  locator (): string[] {
    return [...this.#best].reverse().map(b => b.idString)
  }

  getEntry (id: string): BlockEntry | undefined { return this.#entries.get(id) }
  getEntryAt (height: number): BlockEntry | undefined {
    const block = this.#best[height]
    return block === undefined ? undefined : this.#entries.get(block.idString)
  }

  blockInfo (id: string): BlockInfo | undefined {
    const entry = this.#entries.get(id)
    return entry === undefined ? undefined : { entry, validity: 'active' }
  }

  hasBlock (id: string): boolean { return this.#entries.has(id) }

  decodeBlock (bytes: Uint8Array, expected?: Header): Block {
    return BlockClass.decode(bytes, undefined, expected)
  }

  async getBlocksWire (ids: CID[]): Promise<Uint8Array[]> {
    const wire: Uint8Array[] = []
    for (const id of ids) {
      const block = this.#best.find(b => b.id.equals(id))
      if (block === undefined) break
      wire.push(block.encode())
    }
    return wire
  }

  async getHeadersWire (ids: CID[]): Promise<Uint8Array[]> {
    return ids.flatMap(id => this.#best.find(b => b.id.equals(id))?.header.bytes ?? [])
  }

  async processBlock (block: Block, options?: ProcessOptions): Promise<ProcessResult> {
    this.processed.push({ block, options })
    if (this.#entries.has(block.idString)) return { status: 'known' }
    if (block.header.data.prev?.toString() !== this.tip.idString) return { status: 'orphan', missing: block.header.data.prev?.toString() }
    this.#connect(block)
    return { status: 'connected' }
  }

  /** Takes no transaction: a test sets what it answers. */
  acceptTx: ChainWriter['acceptTx'] = async () => { throw new Error('the fake chain takes no transactions: a test sets acceptTx') }
}
