import type { Progress } from '../log.ts'

/** A sync under way, as the log, the explorer and the metrics show it. */
export interface SyncState {
  peer: string
  /** Our height when it began, now, and the height the peer's headers and status lead to. */
  startHeight: number
  height: number
  target: number
  /** Over the last few seconds; 0 until two samples are apart. */
  blocksPerSecond: number
  /** Estimated seconds left at that rate; undefined while it is unknown. */
  etaSeconds: number | undefined
  startedAt: number
}

/** Samples of (time, height) the rate is taken over: about the last 10 seconds. */
const WINDOW_MS = 10_000

/**
 * Follows one download at a time: target height, percent, blocks per second
 * over the last 10 s, an estimate of the time left, and a done line. Only a
 * sync of more than one block is shown (a block gossip missed is just a new
 * tip). `now` in ms, replaceable in tests.
 */
export class SyncProgress {
  readonly #progress: Progress | undefined
  readonly #now: () => number
  #state: SyncState | undefined
  #samples: Array<[number, number]> = []
  /** Blocks connected by syncs since start, for metrics. */
  blocks = 0

  constructor (progress: Progress | undefined, now: () => number = Date.now) {
    this.#progress = progress
    this.#now = now
  }

  /** The sync under way, if any. */
  get state (): SyncState | undefined { return this.#state }

  /** Whether a sync of more than one block is under way: its progress line tells the story, not one line per block. */
  get catchingUp (): boolean {
    const s = this.#state
    return s !== undefined && s.target - s.startHeight > 1
  }

  begin (peer: string, height: number, target: number): void {
    const now = this.#now()
    this.#state = { peer, startHeight: height, height, target: Math.max(target, height), blocksPerSecond: 0, etaSeconds: undefined, startedAt: now }
    this.#samples = [[now, height]]
  }

  /** The peer's headers reach further than its status said. */
  target (height: number): void {
    if (this.#state !== undefined && height > this.#state.target) this.#state.target = height
  }

  connected (height: number): void {
    const s = this.#state
    if (s === undefined) return
    this.blocks++
    const now = this.#now()
    s.height = height
    if (height > s.target) s.target = height
    const samples = this.#samples
    if (now - samples[samples.length - 1][0] >= 1_000) samples.push([now, height])
    while (samples.length > 2 && now - samples[1][0] >= WINDOW_MS) samples.shift()
    const [t0, h0] = samples[0]
    if (now > t0) s.blocksPerSecond = (height - h0) / ((now - t0) / 1000)
    s.etaSeconds = s.blocksPerSecond > 0 ? (s.target - height) / s.blocksPerSecond : undefined
    if (this.catchingUp) this.#progress?.update(progressLine(s), fieldsOf(s))
  }

  /** The download ended (done, failed or stopped); `tip`: the id we ended on. */
  end (tip: string): void {
    const s = this.#state
    this.#state = undefined
    if (s === undefined || s.height === s.startHeight || s.target - s.startHeight <= 1) return
    const seconds = (this.#now() - s.startedAt) / 1000
    const blocks = s.height - s.startHeight
    const rate = seconds > 0 ? blocks / seconds : 0
    const reached = s.height >= s.target
    this.#progress?.done(`sync ${reached ? 'done' : 'stopped'}: height ${s.height}${reached ? '' : ` of ${s.target}`} (tip ${tip}), ${blocks} blocks from ${s.peer} in ${seconds.toFixed(1)} s (${rate.toFixed(0)} blocks/s)`, {
      event: reached ? 'sync-done' : 'sync-stopped', height: s.height, target: s.target, tip, blocks, peer: s.peer, seconds, blocksPerSecond: rate
    })
  }
}

function percentOf (s: SyncState): number {
  return s.target === 0 ? 100 : (100 * s.height) / s.target
}

/** 75 s as "1 min 15 s", 4000 s as "1 h 7 min". */
export function formatDuration (seconds: number): string {
  const s = Math.round(seconds)
  if (s < 60) return `${s} s`
  if (s < 3_600) return `${Math.floor(s / 60)} min ${s % 60} s`
  return `${Math.floor(s / 3_600)} h ${Math.floor((s % 3_600) / 60)} min`
}

function progressLine (s: SyncState): string {
  const eta = s.etaSeconds === undefined ? 'time left unknown' : `about ${formatDuration(s.etaSeconds)} left`
  return `syncing: height ${s.height} of ${s.target} (${percentOf(s).toFixed(1)} %), ${s.blocksPerSecond.toFixed(0)} blocks/s, ${eta}, from ${s.peer}`
}

function fieldsOf (s: SyncState): Record<string, number | string | undefined> {
  return { event: 'sync', height: s.height, target: s.target, percent: Math.round(percentOf(s) * 10) / 10, blocksPerSecond: Math.round(s.blocksPerSecond), etaSeconds: s.etaSeconds === undefined ? undefined : Math.round(s.etaSeconds), peer: s.peer }
}
