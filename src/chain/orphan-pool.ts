import type { Block } from '../core/block.ts'

/** An orphan and how it came: when its parent arrives it is processed as it would have been then. */
export interface Orphan {
  block: Block
  requested: boolean
  /** Who brought it (ProcessOptions.source). */
  source?: string
}

export interface OrphanPoolInit {
  /** Blocks held at most. */
  maxBlocks?: number
  /** Wire bytes held at most: orphans cost a sender no proof of connecting, so they must not cost us much memory. */
  maxBytes?: number
}

/**
 * Blocks whose parent we lack, held until it arrives. Bounded by count and by
 * bytes, the oldest going first. Only a shortcut: a peer flooding orphans can
 * evict others' orphans, but an orphan also has the node sync from its sender,
 * which fetches the branch again. Orphans live in memory only: when their
 * parent arrives they go through the chain's checks (the work rule among them)
 * as if they had just come.
 */
export class OrphanPool {
  readonly #blocks = new Map<string, Orphan>()
  readonly #byParent = new Map<string, Set<string>>()
  readonly #maxBlocks: number
  readonly #maxBytes: number
  #bytes = 0

  constructor (init: OrphanPoolInit = {}) {
    this.#maxBlocks = init.maxBlocks ?? 256
    this.#maxBytes = init.maxBytes ?? 16 * 1024 * 1024
  }

  get size (): number { return this.#blocks.size }

  has (id: string): boolean {
    return this.#blocks.has(id)
  }

  add (block: Block, requested: boolean, source?: string): void {
    if (this.#blocks.has(block.idString) || block.size > this.#maxBytes) return
    while (this.#blocks.size >= this.#maxBlocks || this.#bytes + block.size > this.#maxBytes) {
      const oldest = this.#blocks.keys().next().value
      if (oldest === undefined) break
      this.#remove(oldest)
    }
    const parent = this.#parentOf(block)
    this.#blocks.set(block.idString, { block, requested, source })
    this.#bytes += block.size
    let siblings = this.#byParent.get(parent)
    if (siblings === undefined) this.#byParent.set(parent, siblings = new Set())
    siblings.add(block.idString)
  }

  /** Removes and returns the orphans waiting for this parent. */
  takeChildren (parentId: string): Orphan[] {
    const ids = this.#byParent.get(parentId)
    if (ids === undefined) return []
    const blocks = [...ids].map(id => this.#blocks.get(id) as Orphan)
    for (const id of ids) this.#remove(id)
    return blocks
  }

  /** The missing block at the root of an orphan's known ancestry, to ask peers for. */
  rootMissing (block: Block): string {
    let parent = this.#parentOf(block)
    for (let o = this.#blocks.get(parent); o !== undefined; o = this.#blocks.get(parent)) parent = this.#parentOf(o.block)
    return parent
  }

  #parentOf (block: Block): string {
    return block.header.data.prev?.toString() ?? ''
  }

  #remove (id: string): void {
    const block = this.#blocks.get(id)?.block
    if (block === undefined) return
    this.#blocks.delete(id)
    this.#bytes -= block.size
    const parent = this.#parentOf(block)
    const siblings = this.#byParent.get(parent)
    siblings?.delete(id)
    if (siblings?.size === 0) this.#byParent.delete(parent)
  }
}
