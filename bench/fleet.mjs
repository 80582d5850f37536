// The fleet simulation's cost and accuracy: the built bundle's `simulate --hosts N --json` for 10,000
// and 100,000 hosts over 48 hours, each run's wall time and peak RSS, against baselines measured in
// the same run (`node -e 0`, and the 4-host demonstration), and the largest gap between the
// simulated rollout curve and the expected one.
// Usage: npm run build && node bench/fleet.mjs [seed]   (or: npm run bench:fleet)
// Targets (issue 14): 10,000 × 48 h in ≤ 10 s wall on a 2-core machine; 100,000 hosts within 1
// percentage point of the expected curve at every hour.
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { cpus } from "node:os"

const bundle = new URL("../dist/cloudbackup-updater.js", import.meta.url).pathname
if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build`)
const seed = process.argv[2] ?? "bench"

/**
 * Runs `node args` and returns its wall time and the child's own peak RSS: the child is wrapped so
 * that it reports `process.resourceUsage().maxRSS` (kB) at exit on a separate descriptor.
 */
const measure = (args) =>
  new Promise((resolve, reject) => {
    const start = process.hrtime.bigint()
    const wrapper = [
      "--import",
      `data:text/javascript,${encodeURIComponent(
        "import fs from 'node:fs'; process.on('exit', () => { try { fs.writeSync(3, String(process.resourceUsage().maxRSS)) } catch {} })"
      )}`
    ]
    const child = spawn(process.execPath, [...wrapper, ...args], {
      stdio: ["ignore", "pipe", "pipe", "pipe"],
      env: { ...process.env, CLOUDBACKUP_UPDATER_OPTIONS_FILE: "/nonexistent/cloudbackup-updater" }
    })
    let stdout = ""
    let stderr = ""
    let rss = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    child.stdio[3].on("data", (chunk) => (rss += chunk))
    child.on("error", reject)
    child.on("close", (code) => {
      const wallMs = Number(process.hrtime.bigint() - start) / 1e6
      if (code !== 0) return reject(new Error(`node ${args.join(" ")} exited ${code}: ${stderr}`))
      resolve({ wallMs, rssMb: Number(rss) / 1024, stdout })
    })
  })

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

const line = (label, { wallMs, rssMb }, extra = "") =>
  console.log(`${label.padEnd(34)} wall ${(wallMs / 1000).toFixed(2).padStart(6)} s   max RSS ${rssMb.toFixed(0).padStart(4)} MB${extra}`)

console.log(`node ${process.version}, ${cpus().length} CPUs, seed ${seed}`)

const nodeRuns = []
for (let i = 0; i < 5; i++) nodeRuns.push(await measure(["-e", "0"]))
const node = { wallMs: median(nodeRuns.map((r) => r.wallMs)), rssMb: median(nodeRuns.map((r) => r.rssMb)) }
line("node -e 0 (median of 5)", node)
const demo = await measure([bundle, "simulate"])
line("simulate (the 4-host demo)", demo)

let failed = false
for (const hosts of [10_000, 100_000]) {
  const run = await measure([bundle, "simulate", "--hosts", String(hosts), "--hours", "48", "--seed", seed, "--json"])
  const report = JSON.parse(run.stdout)
  const gap = Math.max(...report.table.map((row) => Math.abs(row.upgradedPct - row.expectedPct)))
  line(
    `simulate --hosts ${hosts} --hours 48`,
    run,
    `   ${(run.wallMs / node.wallMs).toFixed(1)}x node -e 0, ${(run.wallMs / demo.wallMs).toFixed(1)}x the demo`
  )
  const load = report.load
  console.log(
    `${"".padEnd(34)} max |curve - expected| ${gap.toFixed(2)} pp (hour ${report.maxDeviationHour}); ` +
      `steps ${load.steps}, counted checks ${load.countedChecks}; ` +
      `version.txt peak ${load.versionTxt.peakPerMinute}/min mean ${load.versionTxt.meanPerMinute}/min; ` +
      `packages peak ${load.packages.peakPerMinute}/min mean ${load.packages.meanPerMinute}/min`
  )
  if (hosts === 10_000 && run.wallMs > 10_000) {
    console.log("  MISSED: 10,000 hosts × 48 h took over 10 s")
    failed = true
  }
  if (hosts === 100_000 && gap > 1) {
    console.log("  MISSED: 100,000 hosts strayed over 1 percentage point from the expected curve")
    failed = true
  }
}
process.exitCode = failed ? 1 : 0
