// Start-up cost of the bundle: `--help` wall time against bare `node -e 0`, in the same run.
// Usage: npm run build && node bench/startup.mjs [rounds]
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"

const bundle = new URL("../dist/cloudbackup-updater.js", import.meta.url).pathname
if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build`)
const rounds = Number(process.argv[2] ?? 30)

const time = (args) => {
  const start = process.hrtime.bigint()
  const result = spawnSync(process.execPath, args, { stdio: "ignore" })
  if (result.status !== 0) throw new Error(`node ${args.join(" ")} exited ${result.status}`)
  return Number(process.hrtime.bigint() - start) / 1e6
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

const baseline = []
const help = []
time(["-e", "0"])
time([bundle, "--help"])
for (let i = 0; i < rounds; i++) {
  baseline.push(time(["-e", "0"]))
  help.push(time([bundle, "--help"]))
}
const b = median(baseline)
const h = median(help)
console.log(`node -e 0:                  median ${b.toFixed(1)} ms over ${rounds} runs`)
console.log(`cloudbackup-updater --help: median ${h.toFixed(1)} ms over ${rounds} runs`)
console.log(`ratio: ${(h / b).toFixed(2)}x`)
