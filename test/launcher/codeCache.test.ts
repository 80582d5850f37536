/**
 * The launcher's code cache (V8's compiled code of the bundle, kept between runs): written on the
 * first run, used by the next, rewritten when it does not fit, and never read from a directory
 * that someone else could write to. Run against a copy of the built launcher, as launcher.test.ts does.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const REPO = path.resolve(__dirname, "../..")
const LAUNCHER = path.join(REPO, "dist", "launcher.js")
const BUNDLE = path.join(REPO, "dist", "cloudbackup-updater.js")

let work = ""
beforeAll(() => {
  for (const file of [LAUNCHER, BUNDLE]) {
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: run "npm run build" first`)
  }
  work = fs.mkdtempSync(path.join(os.tmpdir(), "launcher-cache-"))
})
afterAll(() => {
  if (work !== "") fs.rmSync(work, { recursive: true, force: true })
})

/** A launcher copy loading `bundle`, caching in `cache`. */
const launcherFor = (name: string, bundle: string, cache: string) => {
  const file = path.join(work, name)
  const text = fs.readFileSync(LAUNCHER, "utf8")
    .split(JSON.stringify("/usr/lib/cloudbackup-updater/cloudbackup-updater.js")).join(JSON.stringify(bundle))
    .split(JSON.stringify("/var/cache/cloudbackup-updater")).join(JSON.stringify(cache))
  fs.writeFileSync(file, text, { mode: 0o755 })
  return file
}

const run = (launcher: string, args: ReadonlyArray<string>) =>
  spawnSync(process.execPath, [launcher, ...args], { encoding: "utf8", env: { ...process.env, NODE_COMPILE_CACHE: undefined } })

const cached = (cache: string) => fs.readdirSync(cache).filter((name) => name.endsWith(".v8"))

describe("the launcher's code cache", () => {
  it("is written by the first run and used by the next, which prints the same", () => {
    const cache = path.join(work, "cache")
    const launcher = launcherFor("first", BUNDLE, cache)
    const first = run(launcher, ["--help"])
    expect(first.status, first.stderr).toBe(0)
    const files = cached(cache)
    expect(files).toHaveLength(1)
    expect(fs.statSync(cache).mode & 0o777).toBe(0o755)
    expect(fs.statSync(path.join(cache, files[0]!)).mode & 0o777).toBe(0o644)
    const written = fs.statSync(path.join(cache, files[0]!)).mtimeMs
    const second = run(launcher, ["--help"])
    expect(second.status, second.stderr).toBe(0)
    expect(second.stdout).toBe(first.stdout)
    expect(cached(cache)).toEqual(files)
    expect(fs.statSync(path.join(cache, files[0]!)).mtimeMs, "not written again").toBe(written)
  })

  it("is replaced when it does not fit the bundle, and a new bundle file gets its own", () => {
    const cache = path.join(work, "cache-replaced")
    const bundle = path.join(work, "bundle.js")
    fs.copyFileSync(BUNDLE, bundle)
    const launcher = launcherFor("replaced", bundle, cache)
    expect(run(launcher, ["--version"]).status).toBe(0)
    const [file] = cached(cache)
    fs.writeFileSync(path.join(cache, file!), "not a code cache")
    const version = run(launcher, ["--version"])
    expect(version.status, version.stderr).toBe(0)
    expect(fs.readFileSync(path.join(cache, file!)).length).toBeGreaterThan(1000)
    // An upgrade installs a new file: its cache is another, and the old one goes.
    fs.rmSync(bundle)
    fs.copyFileSync(BUNDLE, bundle)
    expect(run(launcher, ["--version"]).status).toBe(0)
    const after = cached(cache)
    expect(after).toHaveLength(1)
    expect(after[0]).not.toBe(file)
  })

  it("is not used in a directory others can write to, and the bundle runs all the same", () => {
    const cache = path.join(work, "cache-open")
    fs.mkdirSync(cache, { mode: 0o777 })
    fs.chmodSync(cache, 0o777)
    const launcher = launcherFor("open", BUNDLE, cache)
    const version = run(launcher, ["--version"])
    expect(version.status, version.stderr).toBe(0)
    expect(cached(cache)).toEqual([])
  })
})
