import { execSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

let CLK_TCK = 100
try {
  CLK_TCK = Number(execSync('getconf CLK_TCK', { encoding: 'utf8' }).trim()) || 100
} catch {
  // keep 100
}

/** utime + stime of a process in seconds (Linux /proc). NaN when unreadable. */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
  } catch {
    return NaN
  }
}
