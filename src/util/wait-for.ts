/**
 * Polls `check` until it returns a value other than undefined or false, and
 * resolves with it; rejects naming `what` once `timeoutMs` has passed. A check
 * that throws ends the wait with its error. Tests, benchmarks and the swarm wait
 * for a state this way instead of sleeping a guessed time.
 */
export async function waitFor<T> (check: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 30_000, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}
