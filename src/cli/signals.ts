/**
 * The signals that stop a command (SIGINT, SIGTERM, SIGHUP), counted once each
 * however they arrive. Under bin/coints.js one Ctrl-C arrives twice: from the
 * terminal (the launcher and this process share its process group) and again
 * as the launcher forwards it over IPC. Per signal, the count is the larger of
 * what the system delivered and what the launcher forwarded, so a second
 * Ctrl-C is a second, and a forwarded copy is not.
 */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
export type StopSignal = typeof STOP_SIGNALS[number]

type Handler = (signal: StopSignal, count: number) => void

const fromSystem = new Map<StopSignal, number>()
const fromLauncher = new Map<StopSignal, number>()
let handler: Handler | undefined
let seen = 0

function note (from: Map<StopSignal, number>, signal: StopSignal): void {
  from.set(signal, (from.get(signal) ?? 0) + 1)
  let total = 0
  for (const s of STOP_SIGNALS) total += Math.max(fromSystem.get(s) ?? 0, fromLauncher.get(s) ?? 0)
  if (total > seen) {
    seen = total
    handler?.(signal, total)
  }
}

export function isStopSignal (value: unknown): value is StopSignal {
  return (STOP_SIGNALS as readonly unknown[]).includes(value)
}

/** Calls `h` for each stop signal, with how many there have been (1 first: stop; 2: the user insists). */
export function onStopSignal (h: Handler): void {
  handler = h
  for (const signal of STOP_SIGNALS) process.on(signal, () => { note(fromSystem, signal) })
}

/** A signal the launcher got and forwards: counted beside the system's by a command that stops on signals, raised here for any other. */
export function forwardedSignal (signal: StopSignal): void {
  if (handler !== undefined) note(fromLauncher, signal)
  else process.kill(process.pid, signal)
}
