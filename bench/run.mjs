// Every speed and footprint figure of issue 14 (part 3) in one run, each beside its baseline
// measured in the same run: the table, or `--json`. Usage: npm run bench [-- --json] [-- --skip-roots]
// (the roots need root: overlay mounts and chroot; they wait for the machine-wide e2e run lock).
// Env: BENCH_RUNS (upgrades per figure, default 3), BENCH_NOOP_RUNS (7), BENCH_LOCK_TRIALS (200),
// BENCH_HELP_RUNS (30).
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const args = process.argv.slice(2)
const json = args.includes("--json")
const skipRoots = args.includes("--skip-roots") || process.getuid?.() !== 0
const repo = new URL("..", import.meta.url).pathname
const bundle = process.env.E2E_UPDATER_BUNDLE ?? join(repo, "dist/cloudbackup-updater.js")
if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build`)
const out = mkdtempSync(join(tmpdir(), "cloudbackup-bench-"))
const log = (line) => process.stderr.write(`[bench] ${line}\n`)

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** (e) `--help` against `node -e 0`, on this host's node. */
const startup = () => {
  const rounds = Number(process.env.BENCH_HELP_RUNS ?? 30)
  const time = (argv) => {
    const start = process.hrtime.bigint()
    const result = spawnSync(process.execPath, argv, { stdio: "ignore" })
    if (result.status !== 0) throw new Error(`node ${argv.join(" ")} exited ${result.status}`)
    return Number(process.hrtime.bigint() - start) / 1e6
  }
  time(["-e", "0"])
  time([bundle, "--help"])
  const base = []
  const help = []
  for (let i = 0; i < rounds; i++) {
    base.push(time(["-e", "0"]))
    help.push(time([bundle, "--help"]))
  }
  return { value: median(help), baseline: median(base), runs: rounds }
}

const vitest = (config) => {
  const result = spawnSync("npx", ["vitest", "run", "--config", config], {
    cwd: repo,
    env: { ...process.env, BENCH_OUT_DIR: out },
    stdio: ["ignore", process.stderr, process.stderr]
  })
  if (result.status !== 0) log(`vitest --config ${config} exited ${result.status}: its figures may be missing`)
}
const readJson = (name) => {
  try {
    return JSON.parse(readFileSync(join(out, name), "utf8"))
  } catch {
    return undefined
  }
}

log(`node ${process.version}; (e) --help vs node -e 0`)
const help = startup()
log("(c) lock reaction at the program level (live FileLock on a temp dir, fake AgentService)")
vitest("bench/vitest.unit.config.ts")
const lock = readJson("lock-reaction.json")
if (!skipRoots) {
  log("(a) (b) (d) (f) in e2e apt roots (waits for /tmp/driveclient-e2e.lock)")
  vitest("bench/vitest.config.ts")
}
const roots = readJson("roots.json") ?? {}
rmSync(out, { recursive: true, force: true })

const ms = (v) => (v === undefined ? "-" : `${v.toFixed(1)} ms`)
const mib = (v) => (v === undefined ? "-" : `${v.toFixed(1)} MiB`)
const figures = [
  {
    id: "a",
    figure: "agent downtime, upgrade to a 20 MiB package (apt root)",
    baselineIs: "service stop; dpkg -i; service start by hand",
    ...roots.upgrade?.downtime,
    unit: ms,
    target: 1.2
  },
  {
    id: "b",
    figure: "new backups blocked (backup lock held by the updater)",
    baselineIs: "the same hand-run stop → install → start",
    ...roots.upgrade?.blocked,
    unit: ms,
    target: 1.5
  },
  {
    id: "c",
    figure: `lock reaction p50/p95/p99 (program level, ${lock?.trials ?? "?"} trials)`,
    baselineIs: "—",
    value: lock?.p99,
    text: lock === undefined ? "-" : `${lock.p50.toFixed(1)} / ${lock.p95.toFixed(1)} / ${lock.p99.toFixed(1)} ms`,
    absoluteTarget: 20,
    targetText: "p99 ≤ 20 ms"
  },
  {
    id: "c'",
    figure: "lock reaction in a root: unlock → agent down (median)",
    baselineIs: "—",
    value: roots.reactionInRoot?.median,
    text: roots.reactionInRoot === undefined ? "-" : `${roots.reactionInRoot.median.toFixed(0)} ms (${roots.reactionInRoot.samples.join(", ")})`,
    targetText: "(information)"
  },
  {
    id: "d",
    figure: "one-shot no-op pass, agent current (apt root)",
    baselineIs: "node -e 0 + dpkg-query -W driveclient",
    ...roots.noop,
    unit: ms,
    target: 2.0
  },
  { id: "e", figure: "--help wall", baselineIs: "node -e 0", ...help, unit: ms, target: 2.0 },
  {
    id: "f",
    figure: "daemon idle RSS after a pass (apt root)",
    baselineIs: "node -e 'setInterval(()=>{},1e6)'",
    ...roots.rss,
    unit: mib,
    target: 1.25
  }
].map((f) => {
  const ratio = f.value !== undefined && f.baseline !== undefined ? f.value / f.baseline : undefined
  const met = f.target !== undefined
    ? (ratio === undefined ? undefined : ratio <= f.target)
    : f.absoluteTarget !== undefined && f.value !== undefined
    ? f.value <= f.absoluteTarget
    : undefined
  return { ...f, ratio, met }
})

const runtime = { host: process.version, roots: roots.noop?.node }
if (json) {
  console.log(JSON.stringify(
    {
      runtime,
      figures: figures.map(({ unit: _u, ...f }) => f),
      lock,
      roots
    },
    null,
    2
  ))
} else {
  const rows = [["", "figure", "value", "baseline", "ratio", "target", "met"]]
  for (const f of figures) {
    rows.push([
      f.id,
      f.figure,
      f.text ?? (f.unit ? f.unit(f.value) : "-"),
      f.baseline === undefined ? f.baselineIs : `${f.unit(f.baseline)} (${f.baselineIs})`,
      f.ratio === undefined ? "-" : `${f.ratio.toFixed(2)}×`,
      f.targetText ?? `≤ ${f.target}×`,
      f.met === undefined ? "-" : f.met ? "yes" : "NO"
    ])
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)))
  for (const [i, r] of rows.entries()) {
    console.log(r.map((c, j) => c.padEnd(widths[j])).join("  ").trimEnd())
    if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "))
  }
  console.log(`\nnode: ${runtime.host} on the host (--help, lock reaction); ${runtime.roots ?? "?"} in the roots`)
}
