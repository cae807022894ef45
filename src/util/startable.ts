/**
 * A service's lifecycle, as js-libp2p's Startable: `start` and `stop` are
 * async and safe to call twice (a second call waits on the first and does
 * nothing more); `stop` is safe before `start` and after a start that failed,
 * and leaves nothing running.
 */
export interface Startable {
  start: () => Promise<void>
  /** Once every service of its list has started: background work that must not hold the start up. */
  afterStart?: () => void
  /** Before any service of its list stops: long work under way is told to end, so no stop waits on it. */
  beforeStop?: () => void
  stop: () => Promise<void>
}

/**
 * Services started in the order given and stopped in reverse (the node's):
 * each starts once those before it have, and stops once those after it have.
 */
export class ServiceList {
  readonly #services: readonly Startable[]
  #starting: Promise<boolean> | undefined
  #stopping: Promise<void> | undefined

  constructor (services: ReadonlyArray<Startable | undefined>) {
    this.#services = services.filter(s => s !== undefined)
  }

  /**
   * Starts each service in turn, then runs their afterStart. Resolves false,
   * having started nothing more, if stop() was called meanwhile.
   */
  async start (): Promise<boolean> {
    this.#starting ??= (async () => {
      for (const service of this.#services) {
        if (this.#stopping !== undefined) return false
        await service.start()
      }
      if (this.#stopping !== undefined) return false
      for (const service of this.#services) service.afterStart?.()
      return true
    })()
    return await this.#starting
  }

  /**
   * Tells every service it is stopping, waits for a start under way (or for
   * `starting`, a start this list's is part of), then stops them in reverse.
   */
  async stop (starting?: Promise<unknown>): Promise<void> {
    this.#stopping ??= (async () => {
      const reversed = [...this.#services].reverse()
      for (const service of reversed) service.beforeStop?.()
      await (starting ?? this.#starting)?.catch(() => {})
      for (const service of reversed) await service.stop()
    })()
    await this.#stopping
  }
}
