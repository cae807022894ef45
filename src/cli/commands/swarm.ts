import { randomInt } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { renderReportHtml } from '../../swarm/report-html.ts'
import { formatReport, SCENARIOS, Swarm, type Scenario, type SwarmOptions } from '../../swarm/swarm.ts'
import { parseTimeline, TimelineError, type TimelineEvent } from '../../swarm/timeline.ts'
import { writeFileAtomic } from '../../util/atomic-file.ts'
import { helpText, intFlag, parseFlags, UsageError, type Command } from '../command.ts'
import { endProgress, progressLine } from '../prompt.ts'
import { onStopSignal } from '../signals.ts'

const flags = {
  nodes: { type: 'string' },
  miners: { type: 'string' },
  mode: { type: 'string' },
  scenario: { type: 'string' },
  'scenario-file': { type: 'string' },
  'phase-seconds': { type: 'string' },
  'block-interval-ms': { type: 'string' },
  'tx-rate': { type: 'string' },
  'late-nodes': { type: 'string' },
  'nodes-per-process': { type: 'string' },
  seed: { type: 'string' },
  report: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' }
} as const

function scenariosOf (text: string): Scenario[] {
  const names = text === 'all' ? [...SCENARIOS] : text.split(',').map(s => s.trim()).filter(s => s !== '')
  for (const name of names) {
    if (!(SCENARIOS as readonly string[]).includes(name)) throw new UsageError('BAD_FLAGS', `unknown scenario "${name}"; scenarios: ${SCENARIOS.join(', ')}, or all`)
  }
  return names as Scenario[]
}

/**
 * A scenario file: JSON with the flags' names (`{"nodes": 5, "scenario": "partition,crash"}`)
 * and, instead of "scenario", a "timeline" of events (see config/swarm-timeline.example.json).
 */
async function fileOptions (path: string): Promise<{ values: Record<string, unknown>, timeline?: unknown }> {
  try {
    const value: unknown = JSON.parse(await readFile(path, 'utf8'))
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object')
    const { timeline, ...rest } = value as Record<string, unknown>
    for (const key of Object.keys(rest)) if (!(key in flags) || ['help', 'scenario-file', 'report'].includes(key)) throw new Error(`unknown key "${key}"`)
    if (timeline !== undefined && 'scenario' in rest) throw new Error('"scenario" and "timeline" do not go together')
    return { values: Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, typeof v === 'boolean' ? v : String(v)])), timeline }
  } catch (err) {
    throw new UsageError('BAD_CONFIG', `scenario file ${path}: ${(err as Error).message}`)
  }
}

function timelineOf (path: string, value: unknown, nodes: number): TimelineEvent[] {
  try {
    return parseTimeline(value, nodes)
  } catch (err) {
    if (err instanceof TimelineError) throw new UsageError('BAD_CONFIG', `scenario file ${path}: ${err.message}`)
    throw err
  }
}

export const swarmCommand: Command = {
  name: 'swarm',
  summary: 'Runs a swarm of regtest nodes on this machine, mines and sends transactions among them, applies faults and reports propagation and convergence (exit status 1 when they did not converge).',
  usage: 'coints swarm [--nodes N] [--miners M] [--mode loopback|lan|nat] [--scenario steady,partition,crash,late|all | --scenario-file FILE] [--seed N] [--report FILE.html] [--json]',
  flags: [
    ['--nodes N', 'nodes (default 8)'],
    ['--miners M', 'of which mining, in turn (default 2)'],
    ['--mode loopback|lan|nat', 'loopback: bootstrap lists on 127.0.0.1 (anywhere); lan: each node in its own network namespace on a bridge, found by mDNS (root and iproute2); nat: two public nodes and the others each behind a home router (port-restricted, UPnP or symmetric NAT) on a simulated internet with a STUN server, found through the DHT (root, iproute2, iptables, nftables, miniupnpd, stund)'],
    ['--scenario LIST', 'steady, partition (split, both sides mine, heal), crash (SIGKILL and restart; a node sharing a process has its connections reset and stops, its stop-time writes made), late (add nodes that must sync), or all (default steady)'],
    ['--scenario-file FILE', 'JSON with these flags\' names, and a "timeline" of events instead of --scenario (see config/swarm-timeline.example.json)'],
    ['--phase-seconds S', 'length of each scenario phase (default 10)'],
    ['--block-interval-ms N', 'time between blocks (default 1000)'],
    ['--tx-rate R', 'wallet-to-wallet sends per second (default 2; 0 for none)'],
    ['--late-nodes N', 'nodes added by the late scenario (default 2)'],
    ['--nodes-per-process N', 'loopback nodes hosted by one process, each with its own datadir, database, libp2p and ports (default 1 up to 8 nodes, else 16; a timeline\'s "crash" of a named node gives that node a process of its own, for a real SIGKILL)'],
    ['--seed N', 'makes every choice (who mines each block, who is paid, which node crashes, which groups a partition makes) the same from run to run (default: a random one, shown in the report)'],
    ['--report FILE.html', 'also write the report as one self-contained HTML page with plots: heights with the faults marked, propagation CDFs, peers, reorganisations'],
    ['--json', 'end with the report as one JSON object on the last line of stdout']
  ],
  async run (argv) {
    const parsed = parseFlags(this, argv, flags).values
    if (parsed.help === true) {
      console.log(helpText(this))
      return 0
    }
    const file = typeof parsed['scenario-file'] === 'string' ? await fileOptions(parsed['scenario-file']) : undefined
    const v = { ...file?.values, ...Object.fromEntries(Object.entries(parsed).filter(([, x]) => x !== undefined)) }
    const nodes = intFlag('nodes', v.nodes, 2, 200) ?? 8
    const mode = v.mode ?? 'loopback'
    if (mode !== 'loopback' && mode !== 'lan' && mode !== 'nat') throw new UsageError('BAD_FLAGS', '--mode must be loopback, lan or nat')
    if (mode !== 'loopback' && v['nodes-per-process'] !== undefined) throw new UsageError('BAD_FLAGS', '--nodes-per-process is for --mode loopback: lan and nat nodes each run in their own namespace')
    const options: SwarmOptions = {
      nodes,
      miners: intFlag('miners', v.miners, 1, 200) ?? 2,
      mode,
      scenarios: scenariosOf(typeof v.scenario === 'string' ? v.scenario : 'steady'),
      phaseSeconds: intFlag('phase-seconds', v['phase-seconds'], 1, 3_600) ?? 10,
      blockIntervalMs: intFlag('block-interval-ms', v['block-interval-ms'], 50, 600_000) ?? 1_000,
      txRate: intFlag('tx-rate', v['tx-rate'], 0, 1_000) ?? 2,
      lateNodes: intFlag('late-nodes', v['late-nodes'], 1, 100) ?? 2,
      nodesPerProcess: intFlag('nodes-per-process', v['nodes-per-process'], 1, 200),
      timeline: file?.timeline === undefined ? undefined : timelineOf(parsed['scenario-file'] as string, file.timeline, nodes),
      seed: intFlag('seed', v.seed, 0, 4_294_967_295) ?? randomInt(2 ** 32 - 1),
      onProgress: (line, lasting) => {
        if (!lasting) {
          progressLine(`swarm: ${line}`)
          return
        }
        // A scenario's start and end stay on screen (on a terminal the progress line below them moves on).
        endProgress()
        process.stderr.write(`swarm: ${line}\n`)
      }
    }
    const swarm = new Swarm(options)
    onStopSignal((_signal, count) => {
      // A second Ctrl-C must not cut the cleanup short: it would leave namespaces and node processes behind.
      if (count > 1) {
        process.stderr.write('swarm: still stopping (every wait has a deadline)...\n')
        return
      }
      endProgress()
      process.stderr.write('swarm: stopping every node and removing the namespaces...\n')
      void swarm.shutdown().finally(() => process.exit(130))
    })
    const report = await swarm.run()
    endProgress()
    console.log(formatReport(report))
    if (typeof v.report === 'string' && swarm.record !== undefined) {
      await writeFileAtomic(v.report, renderReportHtml(swarm.record), 0o644)
      console.log(`report written to ${v.report}`)
    }
    if (v.json === true) console.log(JSON.stringify(report))
    return report.converged ? 0 : 1
  }
}
