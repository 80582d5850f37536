// Start-up cost: `--help` wall time against bare `node -e 0` on the same runtime, in the same run.
// Timed as the packages run it, through the launcher (a copy naming dist/ and a compile cache of its
// own, warmed by one untimed run), and for information with the bundle run directly by node.
// Usage: npm run build && node bench/startup.mjs [--node PATH | --runtimes] [rounds]
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { launcherCopy, runtimesFrom } from "./runtimes.mjs"

export const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** `{ value, baseline, direct, runs }` in ms (medians): launcher --help, node -e 0, node bundle --help. */
export const measureHelp = ({ node, bundle, rounds }) => {
  const work = mkdtempSync(join(tmpdir(), "cloudbackup-bench-help-"))
  try {
    const launcher = launcherCopy(work, bundle)
    const time = (argv) => {
      const start = process.hrtime.bigint()
      const result = spawnSync(node, argv, { stdio: "ignore" })
      if (result.status !== 0) throw new Error(`${node} ${argv.join(" ")} exited ${result.status}`)
      return Number(process.hrtime.bigint() - start) / 1e6
    }
    const base = []
    const help = []
    const direct = []
    for (const argv of [["-e", "0"], [launcher, "--help"], [bundle, "--help"]]) time(argv)
    for (let i = 0; i < rounds; i++) {
      base.push(time(["-e", "0"]))
      help.push(time([launcher, "--help"]))
      direct.push(time([bundle, "--help"]))
    }
    return { value: median(help), baseline: median(base), direct: median(direct), runs: rounds }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2)
  const bundle = new URL("../dist/cloudbackup-updater.js", import.meta.url).pathname
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build`)
  const rounds = Number(args.find((arg) => /^\d+$/.test(arg)) ?? 30)
  for (const runtime of runtimesFrom(args)) {
    const { value, baseline, direct } = measureHelp({ node: runtime.node, bundle, rounds })
    console.log(`node ${runtime.version} (${runtime.label}), medians over ${rounds} runs:`)
    console.log(`  node -e 0:                              ${baseline.toFixed(1)} ms`)
    console.log(`  cloudbackup-updater --help (launcher):  ${value.toFixed(1)} ms  ${(value / baseline).toFixed(2)}x`)
    console.log(`  node cloudbackup-updater.js --help:     ${direct.toFixed(1)} ms  ${(direct / baseline).toFixed(2)}x`)
  }
}
