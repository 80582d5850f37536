/**
 * The launcher as built (dist/launcher.js, dist/launcher-bundled-node.js), run for real: under this
 * machine's Node.js against a stand-in bundle and the real one, under old official Node.js builds
 * (0.10.48, and Debian 11's 12.22.12), and under the runtime the bundled flavour carries
 * (packaging/runtime.json). The runtimes come from the npm registry through
 * packaging/fetch-runtime.mjs, checked against their pinned sha512 and cached in .cache/runtime/.
 *
 * A test copy of the launcher differs from the built one only in the paths it names: the
 * installed bundle (/usr/lib/cloudbackup-updater/cloudbackup-updater.js) and the compile cache
 * directory are replaced by files of the test's own.
 */
import { execFile, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import type * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { transformSync } from "esbuild"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { advice } from "../../src/launcher/NodeRange.js"
import * as Cli from "../../src/main/Cli.js"

const REPO = path.resolve(__dirname, "../..")
const LAUNCHER = path.join(REPO, "dist", "launcher.js")
const LAUNCHER_BUNDLED_NODE = path.join(REPO, "dist", "launcher-bundled-node.js")
const BUNDLE = path.join(REPO, "dist", "cloudbackup-updater.js")
const INSTALLED_BUNDLE = "/usr/lib/cloudbackup-updater/cloudbackup-updater.js"
const COMPILE_CACHE = "/var/cache/cloudbackup-updater"
const PKG = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as {
  version: string
  engines: { node: string }
}

let work = ""
beforeAll(() => {
  for (const file of [LAUNCHER, LAUNCHER_BUNDLED_NODE, BUNDLE]) {
    if (!fs.existsSync(file)) throw new Error(`${file} is missing: run "npm run build" first`)
  }
  work = fs.mkdtempSync(path.join(os.tmpdir(), "launcher-"))
})
afterAll(() => {
  if (work !== "") fs.rmSync(work, { recursive: true, force: true })
})

let copies = 0
/** A copy of a built launcher, named cloudbackup-updater, loading `bundle` and caching in `cache`. */
const launcherFor = (bundle: string, options: { from?: string; cache?: string } = {}) => {
  const text = fs.readFileSync(options.from ?? LAUNCHER, "utf8")
  expect(text.split(JSON.stringify(INSTALLED_BUNDLE)).length - 1, "the installed bundle's path, in quotes").toBe(1)
  const dir = path.join(work, `copy-${copies++}`, "bin")
  fs.mkdirSync(dir, { recursive: true })
  const file = path.join(dir, "cloudbackup-updater")
  fs.writeFileSync(
    file,
    text.split(INSTALLED_BUNDLE).join(bundle).split(JSON.stringify(COMPILE_CACHE)).join(
      JSON.stringify(options.cache ?? path.join(work, "no-cache-here"))
    ),
    { mode: 0o755 }
  )
  return file
}

/** A stand-in bundle: prints what it was run with as JSON and exits 7. */
const standIn = () => {
  const file = path.join(work, `stand-in-${copies++}.js`)
  fs.writeFileSync(
    file,
    `process.stdout.write(JSON.stringify({ argv: process.argv, main: require.main && require.main.filename,
      compileCacheEnv: process.env.NODE_COMPILE_CACHE === undefined ? null : process.env.NODE_COMPILE_CACHE }))
     process.exit(7)\n`
  )
  return file
}

const run = (command: string, args: ReadonlyArray<string>) => {
  const result = spawnSync(command, args, { encoding: "utf8", env: { ...process.env, NODE_COMPILE_CACHE: undefined } })
  if (result.error !== undefined) throw result.error
  return result
}

/** An official Node.js build from the npm registry, pinned in `pins`; its bin/node. */
const runtime = (pins: string, arch: string = "x64") => {
  const dest = path.join(work, "runtimes", path.basename(pins, ".json"))
  if (!fs.existsSync(path.join(dest, "bin", "node"))) {
    const fetched = run(process.execPath, [path.join(REPO, "packaging", "fetch-runtime.mjs"), "--pins", pins, arch, dest])
    expect(fetched.status, fetched.stderr).toBe(0)
  }
  return path.join(dest, "bin", "node")
}
const OLD = path.join(REPO, "test", "fixtures", "runtimes")
const x64 = process.arch === "x64"

describe("the launcher", () => {
  it("is built for ES5, with a fixed interpreter line per flavour and otherwise identical copies", () => {
    const system = fs.readFileSync(LAUNCHER, "utf8")
    const bundled = fs.readFileSync(LAUNCHER_BUNDLED_NODE, "utf8")
    expect(system.split("\n")[0]).toBe("#!/usr/bin/node")
    expect(bundled.split("\n")[0]).toBe("#!/usr/lib/cloudbackup-updater/node/bin/node")
    expect(system.slice(system.indexOf("\n"))).toBe(bundled.slice(bundled.indexOf("\n")))
    for (const file of [LAUNCHER, LAUNCHER_BUNDLED_NODE]) expect(fs.statSync(file).mode & 0o777).toBe(0o755)
    // esbuild refuses let, const and class for es5 (and nothing here needs lowering).
    expect(() => transformSync(system.slice(system.indexOf("\n")), { target: "es5", loader: "js" })).not.toThrow()
  })

  it("runs the bundle in its own process, with argv as the kernel gave it to the launcher", () => {
    const launcher = launcherFor(standIn())
    const args = ["-d", "-r", "http://127.0.0.1:1/a b", "--staged", "status"]
    // Run through its interpreter line where this machine has /usr/bin/node, as the packages run it.
    const direct = fs.existsSync("/usr/bin/node")
    const result = direct ? run(launcher, args) : run(process.execPath, [launcher, ...args])
    expect(result.stderr).toBe("")
    expect(result.status).toBe(7)
    const seen = JSON.parse(result.stdout) as { argv: Array<string>; main: string; compileCacheEnv: string | null }
    expect(seen.argv.slice(1)).toEqual([launcher, ...args])
    if (direct) expect(seen.argv[0]).toBe("/usr/bin/node")
    expect(seen.main).toBe(launcher)
    // What the bundle reads from argv: the command from argv[2] on, and -d.
    expect(Cli.commandOf(seen.argv)).toBe("update")
    expect(Cli.runsDaemon(seen.argv)).toBe(true)
    expect(Cli.commandOf([seen.argv[0]!, launcher, "status", "--json"])).toBe("status")
    // The compile cache is the launcher's own affair: nothing in the environment for the agent it starts.
    expect(seen.compileCacheEnv).toBeNull()
  })

  it("runs the real bundle: its output and exit status are the launcher's", () => {
    const launcher = launcherFor(BUNDLE)
    const version = run(process.execPath, [launcher, "--version"])
    expect(version.status, version.stderr).toBe(0)
    expect(version.stdout.trim()).toBe(PKG.version)
    const usage = run(process.execPath, [launcher, "-i", "0"])
    expect(usage.status).toBe(2)
    expect(usage.stderr.trim().split("\n")).toEqual([
      `cloudbackup-updater: -i/--interval: "0" is not a positive whole number of minutes`
    ])
  })

  it("says in one line that the bundle is missing, and exits 1", () => {
    const missing = path.join(work, "nowhere", "cloudbackup-updater.js")
    const result = run(process.execPath, [launcherFor(missing), "--version"])
    expect(result.status).toBe(1)
    expect(result.stdout).toBe("")
    expect(result.stderr).toBe(`cloudbackup-updater: ${missing} is missing: reinstall the cloudbackup-updater package\n`)
  })

  describe.runIf(x64)("on a Node.js older than package.json's engines.node", () => {
    for (const version of ["0.10.48", "12.22.12"]) {
      it(`refuses Node.js ${version} in one line naming the runtime it needs, and exits 1`, () => {
        const node = runtime(path.join(OLD, `node-${version}.json`))
        const marker = standIn()
        const result = run(node, [launcherFor(marker), "-d"])
        expect(result.stdout, "the bundle was not run").toBe("")
        expect(result.stderr).toBe(
          `cloudbackup-updater: needs Node.js ${PKG.engines.node}, but ${node} is v${version}: install ${advice(PKG.engines.node)}, ` +
            "or the cloudbackup-updater package that carries its own Node.js\n"
        )
        expect(result.status).toBe(1)
      }, 180_000)
    }
  })

  it.runIf(x64)("runs the bundle on Node.js 18.0.0, the floor engines.node promises: help, version, a fleet simulation", () => {
    const node = runtime(path.join(OLD, "node-18.0.0.json"))
    const launcher = launcherFor(BUNDLE)
    const env = { ...process.env, NODE_COMPILE_CACHE: undefined, CLOUDBACKUP_UPDATER_OPTIONS_FILE: "/nonexistent/options" }
    const floor = (args: ReadonlyArray<string>) => spawnSync(node, [launcher, ...args], { encoding: "utf8", env })
    const version = floor(["--version"])
    expect(version.status, version.stderr).toBe(0)
    expect(version.stdout.trim()).toBe(PKG.version)
    const help = floor(["--help"])
    expect(help.status, help.stderr).toBe(0)
    expect(help.stdout).toMatch(/^Usage: cloudbackup-updater/)
    const fleet = floor(["simulate", "--hosts", "200", "--hours", "30", "--seed", "floor", "--json"])
    expect(fleet.status, fleet.stderr).toBe(0)
    expect((JSON.parse(fleet.stdout) as { seed: string }).seed).toBe("floor")
  }, 180_000)

  it.runIf(x64)("on Node.js 18.0.0, status reads the published version over HTTP (the live network settings and client)", async () => {
    const node = runtime(path.join(OLD, "node-18.0.0.json"))
    const server = http.createServer((request, response) => {
      const found = request.url === "/version.txt"
      response.writeHead(found ? 200 : 404, { "content-type": "text/plain" })
      response.end(found ? "9.8.7\n" : "")
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    try {
      const repository = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
      // status changes nothing; with an empty PATH it reaches no package manager or service tool.
      const env = { PATH: "/nonexistent", HOME: os.tmpdir(), CLOUDBACKUP_UPDATER_OPTIONS_FILE: "/nonexistent/options" }
      const stdout = await new Promise<string>((resolve) => {
        execFile(node, [launcherFor(BUNDLE), "status", "--json", "-r", repository], { encoding: "utf8", env, timeout: 60_000 }, (_, out) =>
          resolve(out))
      })
      expect((JSON.parse(stdout) as { published: unknown }).published).toEqual({ value: "9.8.7" })
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }, 180_000)

  it.runIf(x64)("runs the bundle on the runtime the bundled flavour carries, keeping V8's compile cache", () => {
    const node = runtime(path.join(REPO, "packaging", "runtime.json"))
    const pins = JSON.parse(fs.readFileSync(path.join(REPO, "packaging", "runtime.json"), "utf8")) as { version: string }
    expect(run(node, ["-p", "process.versions.node"]).stdout.trim()).toBe(pins.version)
    const cache = path.join(work, "compile-cache")
    const launcher = launcherFor(BUNDLE, { from: LAUNCHER_BUNDLED_NODE, cache })
    const result = run(node, [launcher, "--version"])
    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout.trim()).toBe(PKG.version)
    const cached = fs.readdirSync(cache, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile())
    expect(cached.length, "files in the compile cache").toBeGreaterThan(0)
  }, 180_000)
})
