/**
 * Where a swarm's CPU goes: runs a loopback swarm whose nodes run under
 * --cpu-prof (through NODE_OPTIONS, which spawned nodes inherit), then charges
 * each profile sample to the activity of its nearest frame that names one
 * (gossipsub, yamux, noise, status polling and sync, validation, RPC, ...), the
 * worker threads by their script. Prints CPU seconds per node per minute by
 * activity, and the swarm process's own.
 *   node bench/swarm-profile.ts [nodes=16] [seconds=30] [default]
 * ("default": the nodes run with the default settings instead of the swarm's).
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Swarm, SWARM_NODE_SETTINGS } from '../src/swarm/swarm.ts'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string }, children?: number[] }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

/** Activities by the first matching frame from the leaf up; the order matters (gossipsub's own frames before libp2p's). */
const ACTIVITIES: Array<[string, RegExp]> = [
  ['signature worker', /src\/chain\/sig-worker\.ts/],
  ['nonce worker', /src\/miner\/pow-worker\.ts/],
  ['status polling and sync', /src\/p2p\/(sync|status|headers|block-download)/],
  ['block and tx gossip (coints side)', /src\/p2p\/chain-gossip/],
  ['gossipsub (heartbeats, forwarding)', /@libp2p\/gossipsub|@chainsafe\/libp2p-gossipsub/],
  ['yamux', /libp2p-yamux/],
  ['noise (encryption)', /libp2p-noise|@noble\/ciphers|@noble\/hashes|@noble\/curves|@chainsafe\/as-chacha20poly1305|as-sha256/],
  ['other coints p2p', /src\/p2p\//],
  ['libp2p (identify, ping, connections)', /@libp2p\/|\/libp2p\/|it-|uint8arraylist|@multiformats/],
  ['validation and chain', /src\/(chain|core)\//],
  ['storage (LevelDB)', /level|blockstore/],
  ['mining (template)', /src\/miner\//],
  ['wallet', /src\/wallet\//],
  ['RPC server', /src\/rpc\//],
  ['node start-up and modules', /src\/(node|cli|util|log)|node_modules/],
  ['garbage collection', /^\(garbage collector\)$/],
  ['native, outside JavaScript (libuv, compiling)', /^\(program\)$/],
  ['Node internals (timers, sockets, streams)', /^node:|^$/]
]

function activityOf (frames: ProfileNode[]): string {
  for (const [name, pattern] of ACTIVITIES) {
    for (const f of frames) {
      const key = f.callFrame.url === '' ? f.callFrame.functionName : f.callFrame.url
      if (name === 'garbage collection' || name.startsWith('native') ? pattern.test(f.callFrame.functionName) : (f.callFrame.url !== '' || name.startsWith('Node')) && pattern.test(key)) return name
    }
  }
  return 'other'
}

/** Microseconds of samples by activity; a profile's idle time is left out. */
function charge (profile: Profile, into: Map<string, number>): void {
  const byId = new Map(profile.nodes.map(n => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const cache = new Map<number, string>()
  for (const [i, id] of profile.samples.entries()) {
    const leaf = byId.get(id) as ProfileNode
    if (leaf.callFrame.functionName === '(idle)') continue
    let activity = cache.get(id)
    if (activity === undefined) {
      const frames: ProfileNode[] = []
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) frames.push(byId.get(at) as ProfileNode)
      activity = activityOf(frames)
      cache.set(id, activity)
    }
    into.set(activity, (into.get(activity) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
}

export async function profileSwarm (nodes: number, seconds: number, settings: boolean): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'coints-swarm-profile-'))
  const before = process.env.NODE_OPTIONS
  process.env.NODE_OPTIONS = `${before ?? ''} --cpu-prof --cpu-prof-dir=${dir}`.trim()
  try {
    const report = await new Swarm({ nodes, miners: 2, mode: 'loopback', scenarios: ['steady'], phaseSeconds: seconds, blockIntervalMs: 1_000, txRate: 1, lateNodes: 0, seed: 1, nodeSettings: settings ? SWARM_NODE_SETTINGS : [] }).run()
    const totals = new Map<string, number>()
    for (const file of (await readdir(dir)).filter(f => f.endsWith('.cpuprofile'))) charge(JSON.parse(await readFile(join(dir, file), 'utf8')) as Profile, totals)
    const all = [...totals.values()].reduce((a, b) => a + b, 0)
    console.log(`${nodes} nodes, ${settings ? 'swarm settings' : 'default settings'}: ${report.cpuSecondsPerNodeMinute} CPU s per node per minute (/proc), swarm process ${report.swarmCpuSecondsPerMinute} s a minute, converged ${report.converged}`)
    console.log(`  profiled: ${(all / 1e6 / nodes).toFixed(1)} CPU s a node over its life (start-up included)`)
    for (const [name, us] of [...totals].sort((a, b) => b[1] - a[1])) console.log(`  ${name.padEnd(42)} ${(100 * us / all).toFixed(1).padStart(5)} %  ${(us / 1e6 / nodes).toFixed(2)} s a node`)
  } finally {
    if (before === undefined) delete process.env.NODE_OPTIONS
    else process.env.NODE_OPTIONS = before
    await rm(dir, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  const [nodes = '16', seconds = '30', which] = process.argv.slice(2)
  await profileSwarm(Number(nodes), Number(seconds), which !== 'default')
}
