import type { ChainEventSource } from './ports.ts'
import type { ChainEvents } from './types.ts'

/** Listeners by the chain's event names. */
export type ChainListeners = { [E in keyof ChainEvents]?: (...args: ChainEvents[E]) => void }

/** Attaches listeners to the chain's events; returns the function that detaches them all (for the log's and the metrics' observers). */
export function listenTo (chain: ChainEventSource, listeners: ChainListeners): () => void {
  const names = Object.keys(listeners) as Array<keyof ChainEvents>
  for (const name of names) chain.on(name, listeners[name] as (...args: unknown[]) => void)
  return () => {
    for (const name of names) chain.off(name, listeners[name] as (...args: unknown[]) => void)
  }
}
