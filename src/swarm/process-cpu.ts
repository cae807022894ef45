import { readFile } from 'node:fs/promises'

/** Clock ticks a second of /proc's times (USER_HZ: 100 on every Linux that matters). */
const TICKS = 100

/** CPU seconds (user + system, all its threads) a process has used, from /proc (Linux); undefined when it cannot be read. */
export async function processCpuSeconds (pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
  // The command name (field 2) may hold spaces: the fields after its ')' are plain.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return Number.isFinite(utime) && Number.isFinite(stime) && fields.length > 13 ? (utime + stime) / TICKS : undefined
}
