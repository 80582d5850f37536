/**
 * Speed and footprint in the end-to-end roots (issue 14, part 3), each beside its baseline
 * measured in the same root in the same run. Run by bench/run.mjs (as root: the e2e suite's
 * global setup, with its machine-wide run lock); the figures go to $BENCH_OUT_DIR/roots.json.
 * It asserts only that what it timed really happened, never how long it took.
 *
 * - downtime: agent "down" → new agent "up" (the fixture's ms event log) in an upgrade 1.1.0 →
 *   the 20 MiB padded 1.2.0, by the updater, and by hand (`service driveclient stop; dpkg -i
 *   pkg.deb; service driveclient start`) in the same root; each run notes what put the package in
 *   place (`dpkg -i` of apt's downloaded archive, or `apt-get install`);
 * - blocked: how long the updater holds the agent's backup lock (its file watched from the host),
 *   against the hand-run sequence's wall (timed inside the root), during which no backup can run;
 * - reaction in a root: the busy holder's "unlock" → the agent's "down" (through the updater's
 *   stop and the init script), for information beside the program-level figure;
 * - no-op pass: the updater with the agent current, installed as the packages do (launcher, bundle,
 *   compile cache) and run by node itself for information, against `node -e 0; dpkg-query -W driveclient`;
 * - daemon RSS after a pass against `node -e 'setInterval(()=>{},1e6)'`.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { expect, it } from "vitest"
import { outages } from "../test/e2e/lib/events.js"
import { IN_ROOT, REPO_ROOT } from "../test/e2e/lib/paths.js"
import { sleep } from "../test/e2e/lib/procfs.js"
import { Scenario } from "../test/e2e/lib/scenario.js"

const RUNS = Number(process.env["BENCH_RUNS"] ?? 3)
const NOOP_RUNS = Number(process.env["BENCH_NOOP_RUNS"] ?? 7)
const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const results: Record<string, unknown> = {}
const save = (key: string, value: unknown) => {
  results[key] = value
  console.info(`${key}: ${JSON.stringify(value)}`)
  const out = process.env["BENCH_OUT_DIR"]
  if (out !== undefined) fs.writeFileSync(path.join(out, "roots.json"), JSON.stringify(results))
}

/** BENCH_NODE: the runtime every root's node is (bench/run.mjs --node, --runtimes); else the host's. */
const BENCH_NODE = process.env["BENCH_NODE"]

/** A fresh apt root for `f`, disposed of afterwards (one root alive at a time). */
const inRoot = async <A>(f: (s: Scenario) => Promise<A>): Promise<A> => {
  const s = await Scenario.create("apt")
  try {
    if (BENCH_NODE !== undefined) fs.copyFileSync(BENCH_NODE, s.root.path(IN_ROOT.node))
    return await f(s)
  } finally {
    await s.dispose()
  }
}

/** Intervals during which the agent's lock file exists (host clock, ms since the epoch), with its holder. */
const watchLock = (s: Scenario) => {
  const file = s.root.path(IN_ROOT.agentLock)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const intervals: Array<{ from: number; to: number | undefined; pid: string }> = []
  const look = () => {
    let pid: string | undefined
    try {
      pid = fs.readFileSync(file, "utf8").trim()
    } catch { /* absent */ }
    const open = intervals.at(-1)?.to === undefined ? intervals.at(-1) : undefined
    if (pid !== undefined && open === undefined) intervals.push({ from: Date.now(), to: undefined, pid })
    if (pid === undefined && open !== undefined) open.to = Date.now()
  }
  const watcher = fs.watch(path.dirname(file), look)
  const timer = setInterval(look, 2)
  look()
  return {
    stop: () => {
      watcher.close()
      clearInterval(timer)
      look()
      return intervals
    }
  }
}

const upgradeRoot = async (s: Scenario) => {
  await s.publish(["1.1.0", "1.2.0-big"], "1.2.0")
  await s.configureRepo()
  await s.installAgent("1.1.0", { running: true })
  const big = s.fixtures.builds["1.2.0-big"].deb
  fs.copyFileSync(big, s.root.path("/tmp/pkg.deb"))
  const small = s.fixtures.builds["1.1.0"].deb
  fs.copyFileSync(small, s.root.path("/tmp/old.deb"))
}

/** The last outage that ended with 1.2.0 up. */
const lastOutage = async (s: Scenario) => {
  const outage = outages(await s.events()).filter((o) => o.up?.version === "1.2.0").at(-1)
  expect(outage?.ms, "an outage ending with 1.2.0 up").toBeTypeOf("number")
  return outage!
}
const lastUpgradeOutage = async (s: Scenario) => (await lastOutage(s)).ms!

/** Upgrades of the agent apt-get made (its history log); dpkg -i run by itself leaves none there. */
const aptUpgrades = async (s: Scenario) =>
  (await s.root.readFileOr("/var/log/apt/history.log", "")).split("\n").filter((line) => /^Upgrade: .*\bdriveclient\b/.test(line)).length

it("agent downtime and blocked backups: updater vs stop; dpkg -i; start by hand", { timeout: 900_000 }, async () => {
  const rows: Array<{
    handDown: number
    handBlocked: number
    updaterDown: number
    updaterBlocked: number
    trace: { lockToDown: number; downToUp: number; upToRelease: number }
    /** What installed the new package while the agent was down. */
    installedBy: "dpkg -i" | "apt-get install"
  }> = []
  for (let run = 0; run < RUNS; run++) {
    rows.push(await inRoot(async (s) => {
    await upgradeRoot(s)
    // By hand, timed inside the root.
    const hand = await s.root.execOk([
      "sh",
      "-c",
      "a=$(date +%s%3N); service driveclient stop; DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/pkg.deb >/dev/null; " +
        "service driveclient start; b=$(date +%s%3N); echo $a $b"
    ])
    const [a, b] = hand.stdout.trim().split(/\s+/).map(Number) as [number, number]
    const handDown = await lastUpgradeOutage(s)
    expect(await s.installedVersion()).toMatch(/^1\.2\.0/)
    // Back to 1.1.0, running, for the updater.
    await s.root.execOk(["sh", "-c", "DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/old.deb >/dev/null && service driveclient restart"])
    expect(await s.installedVersion()).toMatch(/^1\.1\.0/)
    const aptBefore = await aptUpgrades(s)
    const watch = watchLock(s)
    const result = await s.runUpdater()
    const intervals = watch.stop()
    expect(result.code, result.stderr).toBe(0)
    expect(await s.installedVersion()).toMatch(/^1\.2\.0/)
    const outage = await lastOutage(s)
    const updaterDown = outage.ms!
    const held = intervals.filter((i) => i.to !== undefined)
    expect(held.length, "the updater took the agent's lock").toBeGreaterThan(0)
    const updaterBlocked = held.reduce((sum, i) => sum + (i.to! - i.from), 0)
    // Where the blocked time goes: lock taken → agent down, down → new agent up, up → lock given back.
    const trace = {
      lockToDown: outage.down.at - held[0]!.from,
      downToUp: updaterDown,
      upToRelease: held.at(-1)!.to! - outage.up!.at
    }
    const installedBy = (await aptUpgrades(s)) > aptBefore ? "apt-get install" : "dpkg -i"
    return { handDown, handBlocked: b - a, updaterDown, updaterBlocked, trace, installedBy }
    }))
  }
  save("upgrade", {
    runs: rows,
    downtime: { value: median(rows.map((r) => r.updaterDown)), baseline: median(rows.map((r) => r.handDown)) },
    blocked: { value: median(rows.map((r) => r.updaterBlocked)), baseline: median(rows.map((r) => r.handBlocked)) }
  })
})

it("lock reaction in a root: the busy holder's unlock → the agent down", { timeout: 600_000 }, async () => {
  const samples: number[] = []
  for (let run = 0; run < RUNS; run++) {
    samples.push(await inRoot(async (s) => {
    await s.publish(["1.1.0", "1.2.0"], "1.2.0")
    await s.configureRepo()
    await s.installAgent("1.1.0", { running: true })
    await s.makeBusy(2)
    const result = await s.runUpdater()
    expect(result.code, result.stderr).toBe(0)
    const events = await s.events()
    const unlock = events.find((e) => e.kind === "unlock")
    const down = events.find((e) => e.kind === "down" && e.at >= (unlock?.at ?? Infinity))
    expect(unlock && down, "an unlock, then the agent down").toBeTruthy()
    return down!.at - unlock!.at
    }))
  }
  save("reactionInRoot", { samples, median: median(samples) })
})

/** The updater as the packages install it: the launcher, the bundle beside it, and the launcher's compile cache. */
const INSTALLED = { launcher: "/usr/bin/cloudbackup-updater", bundle: "/usr/lib/cloudbackup-updater/cloudbackup-updater.js" }

it("one-shot pass with nothing to do vs node -e 0 + dpkg-query", { timeout: 600_000 }, () => inRoot(async (s) => {
  await s.publish(["1.1.0"], "1.1.0")
  await s.configureRepo()
  await s.installAgent("1.1.0", { running: true })
  fs.mkdirSync(path.dirname(s.root.path(INSTALLED.bundle)), { recursive: true })
  fs.copyFileSync(s.root.path(IN_ROOT.bundle), s.root.path(INSTALLED.bundle))
  fs.copyFileSync(path.join(REPO_ROOT, "dist", "launcher.js"), s.root.path(INSTALLED.launcher))
  const time = async (argv: ReadonlyArray<string>) => {
    const start = performance.now()
    const result = await s.root.exec(argv)
    const ms = performance.now() - start
    expect(result.code, `${argv.join(" ")}: ${result.stderr}`).toBe(0)
    return { ms, result }
  }
  const baselineArgv = ["sh", "-c", `${IN_ROOT.node} -e 0 && dpkg-query -W driveclient >/dev/null`]
  const direct = s.updaterArgv()
  // `node /usr/bin/cloudbackup-updater`: the root has no /usr/bin/node for its interpreter line.
  const installed = direct.map((arg) => (arg === IN_ROOT.bundle ? INSTALLED.launcher : arg))
  // The first run also writes the launcher's compile cache, as the timer's first pass does.
  for (const argv of [installed, direct]) {
    const first = await time(argv)
    expect(first.result.stdout + first.result.stderr).toMatch(/up to date/)
  }
  expect(fs.readdirSync(s.root.path("/var/cache/cloudbackup-updater")).length, "the compile cache").toBeGreaterThan(0)
  await time(baselineArgv)
  const pass: number[] = []
  const bundle: number[] = []
  const base: number[] = []
  for (let i = 0; i < NOOP_RUNS; i++) {
    base.push((await time(baselineArgv)).ms)
    pass.push((await time(installed)).ms)
    bundle.push((await time(direct)).ms)
  }
  const node = (await s.root.execOk([IN_ROOT.node, "--version"])).stdout.trim()
  save("noop", { value: median(pass), baseline: median(base), direct: median(bundle), pass, base, bundle, node })
}))

const rssKiB = (pid: number): number =>
  Number(/^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1])

/** Where a process's resident memory is (MiB): the node binary's pages, malloc's main heap, and anonymous memory (V8's heap, threads' malloc arenas), others. */
const residentBy = (pid: number): Record<string, number> => {
  const kib: Record<string, number> = {}
  let kind = "other"
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (mapping !== null) {
      const name = mapping[1]!.trim()
      kind = name === "" ? "anonymous" : name === "[heap]" ? "mallocHeap" : name.endsWith("/node") ? "nodeBinary" : "other"
      continue
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line)
    if (rss !== null) kib[kind] = (kib[kind] ?? 0) + Number(rss[1])
  }
  return Object.fromEntries(Object.entries(kib).map(([kind, value]) => [kind, Math.round(value / 102.4) / 10]))
}

/** The C library's settings the SysV init scripts give the daemon (`: "${MALLOC_…:=…}"`), as they start it. */
const initScriptEnvironment = (): Record<string, string> => {
  const script = fs.readFileSync(path.join(REPO_ROOT, "packaging", "debian", "cloudbackup-updater.init"), "utf8")
  const env = Object.fromEntries([...script.matchAll(/\$\{(MALLOC_\w+):=([^}]+)\}/g)].map((m) => [m[1]!, m[2]!]))
  expect(Object.keys(env), "the init script's malloc settings").not.toEqual([])
  return env
}

it("daemon idle RSS after a pass vs node idling", { timeout: 600_000 }, () => inRoot(async (s) => {
  await s.publish(["1.0.0", "1.1.0"], "1.1.0")
  await s.configureRepo()
  await s.installAgent("1.1.0", { running: true })
  const daemon = await s.startUpdater({
    args: ["-d", "-l", "/var/log/updater.log", "-p", "/run/updater.pid"],
    env: initScriptEnvironment()
  })
  let log = ""
  for (let i = 0; i < 300 && !log.includes("is up to date"); i++) {
    await sleep(100)
    log = await s.root.readFileOr("/var/log/updater.log", "")
  }
  expect(log, "the daemon's first pass").toContain("is up to date")
  const bare = s.root.start([IN_ROOT.node, "-e", "setInterval(() => {}, 1e6)"])
  const daemonRss: number[] = []
  const bareRss: number[] = []
  for (let i = 0; i < 5; i++) {
    await sleep(1000)
    daemonRss.push(rssKiB(daemon.pid))
    bareRss.push(rssKiB(bare.pid))
  }
  const where = { daemon: residentBy(daemon.pid), bare: residentBy(bare.pid) }
  process.kill(daemon.pid, "SIGTERM")
  process.kill(bare.pid, "SIGKILL")
  expect((await daemon.done).code, "a SIGTERM ends the daemon cleanly").toBe(0)
  await bare.done
  save("rss", { value: median(daemonRss) / 1024, baseline: median(bareRss) / 1024, where })
}))
