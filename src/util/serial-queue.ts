/** Runs async tasks one at a time, in the order given; a failed task does not hold up the ones after it. */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve()

  async run<T> (task: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(task, task)
    this.#tail = run.catch(() => {})
    return await run
  }

  /** Settles when every task queued so far has. */
  async idle (): Promise<void> {
    await this.#tail
  }
}
