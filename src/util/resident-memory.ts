import { readFile } from 'node:fs/promises'

/** A process's resident memory in MB, from /proc (Linux); undefined when it cannot be read. */
export async function residentMemoryMb (pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '')
  const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1]
  return kb === undefined ? undefined : Number(kb) / 1024
}
