// The Node.js runtimes a benchmark runs its figures on: this host's (the default), each given with
// `--node PATH`, and with `--runtimes` the two the packages use — the Node.js 18.0.0 floor of
// engines.node and the runtime the bundled flavour carries (packaging/runtime.json) — fetched and
// sha512-checked by packaging/fetch-runtime.mjs into .cache/bench-runtimes/.
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const repo = new URL("..", import.meta.url).pathname

const versionOf = (node) => execFileSync(node, ["-p", "process.version"], { encoding: "utf8" }).trim()

const fetched = (pins) => {
  const version = JSON.parse(readFileSync(pins, "utf8")).version
  const dest = join(repo, ".cache", "bench-runtimes", version)
  const node = join(dest, "bin", "node")
  if (!existsSync(node)) {
    const arch = process.arch === "arm64" ? "arm64" : "x64"
    const result = spawnSync(process.execPath, [join(repo, "packaging", "fetch-runtime.mjs"), "--pins", pins, arch, dest], {
      stdio: ["ignore", "inherit", "inherit"]
    })
    if (result.status !== 0) throw new Error(`cannot fetch the Node.js ${version} runtime`)
  }
  return node
}

/** `[{ label, node, version }]` for the command line's `--runtimes` and `--node PATH` (repeatable), else this node. */
export const runtimesFrom = (args) => {
  const given = args.flatMap((arg, i) => (arg === "--node" ? [args[i + 1]] : arg.startsWith("--node=") ? [arg.slice(7)] : []))
  if (given.some((node) => node === undefined || !existsSync(node))) throw new Error("--node needs the path of a node binary")
  const runtimes = [
    ...(args.includes("--runtimes")
      ? [
        { label: "the Node.js 18 floor", node: fetched(join(repo, "test", "fixtures", "runtimes", "node-18.0.0.json")) },
        { label: "the bundled runtime", node: fetched(join(repo, "packaging", "runtime.json")) }
      ]
      : []),
    ...given.map((node) => ({ label: "given", node }))
  ]
  if (runtimes.length === 0) runtimes.push({ label: "this host's", node: process.execPath })
  return runtimes.map((runtime) => ({ ...runtime, version: versionOf(runtime.node) }))
}

/**
 * A copy of the built launcher (dist/launcher.js) in `dir` that loads `bundle` and keeps its compile
 * cache in `dir`/cache: the installed program, but for those two paths.
 */
export const launcherCopy = (dir, bundle) => {
  const text = readFileSync(join(repo, "dist", "launcher.js"), "utf8")
  const installed = "/usr/lib/cloudbackup-updater/cloudbackup-updater.js"
  const cacheDir = "/var/cache/cloudbackup-updater"
  if (!text.includes(JSON.stringify(installed)) || !text.includes(JSON.stringify(cacheDir))) {
    throw new Error("dist/launcher.js does not name the installed bundle and cache directory: rebuild it")
  }
  mkdirSync(dir, { recursive: true })
  const file = join(dir, "cloudbackup-updater")
  writeFileSync(file, text.split(JSON.stringify(installed)).join(JSON.stringify(bundle)).split(JSON.stringify(cacheDir)).join(JSON.stringify(join(dir, "cache"))), { mode: 0o755 })
  return file
}
