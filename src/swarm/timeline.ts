/**
 * A swarm's scenario as data (`coints swarm --scenario-file`): events at
 * seconds after mining begins, run in order; an event that waits (a heal or a
 * restart waits for agreement) delays the ones after it.
 */
export const TIMELINE_ACTIONS = ['partition', 'heal', 'crash', 'restart', 'add', 'txrate', 'skew', 'end'] as const
export type TimelineAction = typeof TIMELINE_ACTIONS[number]

export type TimelineEvent =
  /** Splits the running nodes into these groups of node indexes (absent: two halves the seed chooses, each with a miner). */
  | { at: number, do: 'partition', groups?: number[][] }
  | { at: number, do: 'heal' }
  /** SIGKILLs node K (absent: a node that does not mine, the seed's choice). */
  | { at: number, do: 'crash', node?: number }
  /** Restarts node K on its datadir (absent: the last crashed), then waits for agreement. */
  | { at: number, do: 'restart', node?: number }
  /** Starts N more nodes that must sync. */
  | { at: number, do: 'add', nodes: number }
  /** Wallet-to-wallet sends per second from now on. */
  | { at: number, do: 'txrate', rate: number }
  /** Restarts node K with its clock `seconds` off (at 0: it starts so). */
  | { at: number, do: 'skew', node?: number, seconds: number }
  /** Mining stops and the swarm checks agreement (absent: a phase after the last event). */
  | { at: number, do: 'end' }

export class TimelineError extends Error {
  readonly code = 'BAD_TIMELINE'
}

const KEYS: Record<TimelineAction, string[]> = {
  partition: ['groups'],
  heal: [],
  crash: ['node'],
  restart: ['node'],
  add: ['nodes'],
  txrate: ['rate'],
  skew: ['node', 'seconds'],
  end: []
}

function integer (value: unknown, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new TimelineError(`${what} must be an integer from ${min} to ${max}`)
  return value
}

/**
 * Checks a timeline against a swarm of `nodes` nodes: every node it names exists
 * by then, a heal follows a partition, a restart a crash. Errors name the event.
 */
export function parseTimeline (value: unknown, nodes: number): TimelineEvent[] {
  if (!Array.isArray(value) || value.length === 0) throw new TimelineError('timeline must be a non-empty list of events')
  const events: TimelineEvent[] = []
  let count = nodes
  let cut = false
  const down = new Set<number>()
  let last = 0
  for (const [n, item] of value.entries()) {
    const where = `timeline[${n}]`
    try {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new TimelineError('not an object')
      const e = item as Record<string, unknown>
      const action = e.do
      if (typeof action !== 'string' || !(TIMELINE_ACTIONS as readonly string[]).includes(action)) throw new TimelineError(`"do" must be one of ${TIMELINE_ACTIONS.join(', ')}`)
      const act = action as TimelineAction
      for (const key of Object.keys(e)) if (key !== 'at' && key !== 'do' && !KEYS[act].includes(key)) throw new TimelineError(`unknown key "${key}" for ${act}`)
      const at = e.at
      if (typeof at !== 'number' || !Number.isFinite(at) || at < 0 || at > 86_400) throw new TimelineError('"at" must be seconds from 0 to 86400')
      if (at < last) throw new TimelineError(`"at" ${at} comes before the event before it (${last})`)
      last = at
      const node = (key = 'node'): number | undefined => e[key] === undefined ? undefined : integer(e[key], `"${key}"`, 0, count - 1)
      if (act === 'partition') {
        if (cut) throw new TimelineError('the swarm is already partitioned (heal first)')
        cut = true
        if (e.groups === undefined) {
          events.push({ at, do: act })
          continue
        }
        if (!Array.isArray(e.groups) || e.groups.length < 2 || !e.groups.every(g => Array.isArray(g) && g.length > 0)) throw new TimelineError('"groups" must be two or more non-empty lists of node indexes')
        const groups = (e.groups as unknown[][]).map(g => g.map(i => integer(i, 'a node index in "groups"', 0, count - 1)))
        const all = groups.flat()
        if (new Set(all).size !== all.length) throw new TimelineError('a node is in two groups')
        events.push({ at, do: act, groups })
      } else if (act === 'heal') {
        if (!cut) throw new TimelineError('heal without a partition before it')
        cut = false
        events.push({ at, do: act })
      } else if (act === 'crash') {
        const k = node()
        if (k !== undefined) {
          if (down.has(k)) throw new TimelineError(`node ${k} is already down`)
          down.add(k)
        } else down.add(-1 - n)
        events.push({ at, do: act, node: k })
      } else if (act === 'restart') {
        const k = node()
        if (k !== undefined && !down.delete(k)) throw new TimelineError(`node ${k} was not crashed`)
        if (k === undefined) {
          if (down.size === 0) throw new TimelineError('restart without a crash before it')
          down.delete([...down].at(-1) as number)
        }
        events.push({ at, do: act, node: k })
      } else if (act === 'add') {
        const added = integer(e.nodes, '"nodes"', 1, 100)
        count += added
        events.push({ at, do: act, nodes: added })
      } else if (act === 'txrate') {
        events.push({ at, do: act, rate: integer(e.rate, '"rate"', 0, 1_000) })
      } else if (act === 'skew') {
        events.push({ at, do: act, node: node(), seconds: integer(e.seconds, '"seconds"', -86_400, 86_400) })
      } else {
        if (n !== value.length - 1) throw new TimelineError('"end" must be the last event')
        events.push({ at, do: act })
      }
    } catch (err) {
      if (err instanceof TimelineError) throw new TimelineError(`${where}: ${err.message}`)
      throw err
    }
  }
  return events
}

/** Nodes the timeline adds. */
export function addedNodes (events: readonly TimelineEvent[]): number {
  return events.reduce((sum, e) => sum + (e.do === 'add' ? e.nodes : 0), 0)
}
