// Every speed and footprint figure of issue 14 (part 3) in one run, each beside its baseline
// measured in the same run: a table per runtime, or `--json`.
// Usage: npm run bench [-- --json] [-- --skip-roots] [-- --node PATH | --runtimes] [-- --only NAME]
// (`--only`: only the root figures whose test name contains NAME, e.g. --only one-shot)
// (the roots need root: overlay mounts and chroot; they wait for the machine-wide e2e run lock).
// The runtime (bench/runtimes.mjs): this host's node, `--node PATH` (repeatable), or `--runtimes`
// for both that the packages use, the Node.js 18 floor and the bundled runtime. Its binary runs
// `--help` and is copied into each root as the root's node; the lock reaction is measured once,
// at the program level, under the node running this script.
// Env: BENCH_RUNS (upgrades per figure, default 3), BENCH_NOOP_RUNS (7), BENCH_LOCK_TRIALS (200),
// BENCH_HELP_RUNS (30).
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { runtimesFrom } from "./runtimes.mjs"
import { measureHelp } from "./startup.mjs"

const args = process.argv.slice(2)
const json = args.includes("--json")
const skipRoots = args.includes("--skip-roots") || process.getuid?.() !== 0
const repo = new URL("..", import.meta.url).pathname
const bundle = process.env.E2E_UPDATER_BUNDLE ?? join(repo, "dist/cloudbackup-updater.js")
if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build`)
const out = mkdtempSync(join(tmpdir(), "cloudbackup-bench-"))
const log = (line) => process.stderr.write(`[bench] ${line}\n`)

const runtimes = runtimesFrom(args)
const only = args.includes("--only") ? ["-t", args[args.indexOf("--only") + 1]] : []

const vitest = (config, env = {}, extra = []) => {
  rmSync(join(out, "roots.json"), { force: true })
  const result = spawnSync("npx", ["vitest", "run", "--config", config, ...extra], {
    cwd: repo,
    env: { ...process.env, BENCH_OUT_DIR: out, ...env },
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

log(`(c) lock reaction at the program level (live FileLock on a temp dir, fake AgentService), node ${process.version}`)
vitest("bench/vitest.unit.config.ts")
const lock = readJson("lock-reaction.json")
const measured = runtimes.map((runtime) => {
  log(`node ${runtime.version} (${runtime.label}): (e) --help vs node -e 0`)
  const help = measureHelp({ node: runtime.node, bundle, rounds: Number(process.env.BENCH_HELP_RUNS ?? 30) })
  if (!skipRoots) {
    log(`node ${runtime.version} (${runtime.label}): (a) (b) (d) (f) in e2e apt roots (waits for /tmp/driveclient-e2e.lock)`)
    vitest("bench/vitest.config.ts", { BENCH_NODE: runtime.node }, only)
  }
  return { runtime, help, roots: readJson("roots.json") ?? {} }
})
rmSync(out, { recursive: true, force: true })

const ms = (v) => (v === undefined ? "-" : `${v.toFixed(1)} ms`)
const mib = (v) => (v === undefined ? "-" : `${v.toFixed(1)} MiB`)
const figuresFor = ({ runtime, help, roots }) => [
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
    figure: `lock reaction p50/p95/p99 (program level, ${lock?.trials ?? "?"} trials, node ${process.version})`,
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
    figure: "one-shot no-op pass, agent current (apt root, through the launcher)",
    baselineIs: "node -e 0 + dpkg-query -W driveclient",
    ...roots.noop,
    unit: ms,
    target: 2.0
  },
  {
    id: "d'",
    figure: "the same pass, node running the bundle itself (no compile cache)",
    baselineIs: "the same",
    value: roots.noop?.direct,
    baseline: roots.noop?.baseline,
    unit: ms,
    targetText: "(information)"
  },
  { id: "e", figure: "--help wall (through the launcher)", baselineIs: "node -e 0", ...help, unit: ms, target: 2.0 },
  {
    id: "e'",
    figure: "--help, node running the bundle itself (no compile cache)",
    baselineIs: "the same",
    value: help.direct,
    baseline: help.baseline,
    unit: ms,
    targetText: "(information)"
  },
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

const tables = measured.map((m) => ({
  runtime: { label: m.runtime.label, node: m.runtime.node, version: m.runtime.version, inRoots: m.roots.noop?.node },
  figures: figuresFor(m),
  roots: m.roots,
  help: m.help
}))
if (json) {
  console.log(JSON.stringify(
    { lock, runtimes: tables.map((t) => ({ ...t, figures: t.figures.map(({ unit: _u, ...f }) => f) })) },
    null,
    2
  ))
} else {
  for (const [n, table] of tables.entries()) {
    const { runtime } = table
    if (n > 0) console.log("")
    console.log(
      `node ${runtime.version} (${runtime.label}: ${runtime.node}) for --help` +
        (skipRoots ? "" : ` and in the roots (${runtime.inRoots ?? "?"})`) + `; lock reaction (c): node ${process.version}`
    )
    const rows = [["", "figure", "value", "baseline", "ratio", "target", "met"]]
    for (const f of table.figures) {
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
  }
}
