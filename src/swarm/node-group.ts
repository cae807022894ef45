/**
 * Several swarm nodes in one process (as Lodestar's multiNodeSingleThread
 * simulations): each a CointsNode of its own (datadir, database, libp2p, TCP
 * and RPC ports), started and stopped on orders from the swarm over the IPC
 * channel of `child_process.fork`. Modules, Node and V8 are loaded once for
 * the group instead of once a node.
 */
import { CointsError } from '../core/errors.ts'
import { configureLogging } from '../log.ts'
import { CointsNode } from '../node/node.ts'
import type { NodeOptions } from '../node/options.ts'

/** An order from the swarm: `args` are the node's `coints node` flags. */
export type GroupOrder =
  | { do: 'start', index: number, args: string[] }
  | { do: 'stop' | 'crash', index: number }

/** What the group tells the swarm: a node has ended (stopped, crashed, failed to start, or stopped itself). */
export interface GroupNotice { index: number, ended: true, error?: string }

export class NodeGroup {
  readonly #optionsOf: (args: string[]) => Promise<NodeOptions>
  readonly #nodes = new Map<number, CointsNode>()
  #logging = false

  /** `optionsOf`: the CLI's reading of a node's flags (the layer above this one owns it). */
  constructor (optionsOf: (args: string[]) => Promise<NodeOptions>) {
    this.#optionsOf = optionsOf
  }

  /** Takes orders from the parent; once the channel closes (the swarm has stopped or died), stops every node and exits. */
  serve (): void {
    process.on('message', (order: GroupOrder) => { void this.#obey(order) })
    process.once('disconnect', () => { void this.#stopAll().finally(() => process.exit(0)) })
  }

  async #obey (order: GroupOrder): Promise<void> {
    const node = this.#nodes.get(order.index)
    if (order.do === 'start') await this.#start(order.index, order.args)
    else if (order.do === 'stop') await node?.stop()
    else if (node !== undefined) await crash(node)
  }

  async #start (index: number, args: string[]): Promise<void> {
    let node: CointsNode
    try {
      const options = await this.#optionsOf(args)
      // The logger is the process's: every node of the group logs at the first one's level, to the group's stderr.
      if (!this.#logging) configureLogging({ level: options.logLevel, format: options.logFormat })
      this.#logging = true
      node = await CointsNode.create(options)
    } catch (err) {
      notify({ index, ended: true, error: (err as Error).message })
      return
    }
    this.#nodes.set(index, node)
    let error: string | undefined
    void node.stopped.then(() => {
      this.#nodes.delete(index)
      notify({ index, ended: true, ...(error === undefined ? {} : { error }) })
    })
    await node.start().catch(async (err: unknown) => {
      // Stopped by an order while starting: a clean stop, not a failure (as `coints node` at a signal).
      if (!(err instanceof CointsError && err.code === 'STOPPED_WHILE_STARTING')) error = (err as Error).message
      await node.stop().catch(() => {})
    })
  }

  async #stopAll (): Promise<void> {
    await Promise.all([...this.#nodes.values()].map(async n => { await n.stop().catch(() => {}) }))
  }
}

function notify (notice: GroupNotice): void {
  // The swarm may be gone already (it exits after its last order): nothing is waiting for the notice then.
  if (process.connected) process.send?.(notice)
}

/**
 * A crash of a node that shares its process: its peers see every connection
 * reset at once, as when its process dies, and it takes no new one; then it
 * stops. Unlike a SIGKILL it still makes its stop-time writes (the mempool
 * file, the wallet, the chain's caches): `--nodes-per-process 1` gives real
 * SIGKILLs.
 */
async function crash (node: CointsNode): Promise<void> {
  const stopping = node.stop()
  for (const connection of node.p2p?.libp2p.getConnections() ?? []) connection.abort(new Error('crashed'))
  await stopping
}
