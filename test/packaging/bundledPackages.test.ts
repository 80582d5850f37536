/**
 * The flavour that carries its own Node.js (PACKAGE_FLAVOUR=bundled, amd64): packaging/build.sh's
 * .deb and .rpm inspected as files, as test/packaging/packages.test.ts does for the noarch flavour,
 * for what differs: the architecture, the dependencies (the C and C++ libraries of Node.js's
 * official build instead of nodejs), the runtime under /usr/lib/cloudbackup-updater/node, and the
 * launcher's interpreter line. Nothing is installed; the packaged runtime runs the packaged bundle.
 * Building takes minutes (xz over the 120 MB runtime, twice); the runtime comes through
 * packaging/fetch-runtime.mjs (the npm registry, or .cache/runtime/).
 */
import { execFile, execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const REPO = path.resolve(__dirname, "../..")
const NAME = "cloudbackup-updater"
const VERSION = (JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { version: string }).version
const PACKAGE_VERSION = VERSION.replace(/-/g, "~")
const RUNTIME = JSON.parse(fs.readFileSync(path.join(REPO, "packaging", "runtime.json"), "utf8")) as { version: string }
const x64 = process.arch === "x64"

const run = (command: string, args: ReadonlyArray<string>, options: { env?: NodeJS.ProcessEnv } = {}) =>
  execFileSync(command, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...options })
const onPath = (program: string) =>
  (process.env["PATH"] ?? "").split(":").some((dir) => dir !== "" && fs.existsSync(path.join(dir, program)))

let work = ""
let deb = ""
let rpm = ""
let debTree = ""
let rpmTree = ""
let rpmDb = ""
let runtime = ""
const rpmq = (...args: ReadonlyArray<string>) => run("rpm", ["--dbpath", rpmDb, "-qp", ...args, rpm])

beforeAll(async () => {
  if (!x64) return
  work = fs.mkdtempSync(path.join(os.tmpdir(), "cloudbackup-updater-bundled-"))
  const out = path.join(work, "out")
  // Minutes of xz: asynchronously, so that the worker keeps answering vitest meanwhile.
  const { stdout: printed } = await promisify(execFile)("bash", [path.join(REPO, "packaging", "build.sh")], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, PACKAGE_OUT_DIR: out, PACKAGE_FLAVOUR: "bundled", PACKAGE_ARCH: "amd64" }
  })
  deb = path.join(out, `${NAME}_${PACKAGE_VERSION}-1_amd64.deb`)
  rpm = path.join(out, `${NAME}-${PACKAGE_VERSION}-1.x86_64.rpm`)
  expect(printed.trim().split("\n")).toEqual([deb, rpm])
  debTree = path.join(work, "deb")
  run("dpkg-deb", ["-x", deb, debTree])
  rpmTree = path.join(work, "rpm")
  rpmDb = path.join(work, "rpmdb")
  fs.mkdirSync(rpmTree)
  fs.mkdirSync(rpmDb)
  await promisify(execFile)("sh", ["-c", 'rpm2archive -n - <"$1" | tar -xf - -C "$2"', "sh", rpm, rpmTree])
  // The pinned runtime, as fetch-runtime.mjs gives it, to compare with.
  runtime = path.join(work, "runtime")
  run(process.execPath, [path.join(REPO, "packaging", "fetch-runtime.mjs"), "x64", runtime])
}, 900_000)

afterAll(() => {
  if (work !== "") fs.rmSync(work, { recursive: true, force: true })
})

describe.runIf(x64)("the bundled flavour", () => {
  it("is the same package, amd64, needing the C and C++ libraries of Node.js's build and no nodejs", () => {
    const field = (name: string) => run("dpkg-deb", ["-f", deb, name]).trim()
    expect(field("Package")).toBe(NAME)
    expect(field("Version")).toBe(`${PACKAGE_VERSION}-1`)
    expect(field("Architecture")).toBe("amd64")
    expect(field("Depends")).toBe("libc6 (>= 2.28), libgcc-s1 | libgcc1, libstdc++6 (>= 7)")
    expect(rpmq("--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH}")).toBe(`${NAME} ${PACKAGE_VERSION} 1 x86_64`)
    const requires = rpmq("-R").trim().split("\n")
    expect(requires.filter((r) => /node/.test(r))).toEqual([])
    // glibc 2.28 at most (RHEL 8), found by rpmbuild in the binary.
    const glibc = requires.flatMap((r) => /^libc\.so\.6\(GLIBC_([\d.]+)\)\(64bit\)$/.exec(r)?.[1] ?? [])
    expect(glibc).toContain("2.28")
    for (const v of glibc) {
      const [major, minor] = v.split(".").map(Number) as [number, number]
      expect(major < 2 || (major === 2 && minor <= 28), `GLIBC_${v}`).toBe(true)
    }
    expect(requires).toContain("libstdc++.so.6(CXXABI_1.3.11)(64bit)")
  })

  it("carries the pinned Node.js build byte for byte, and its licence", () => {
    const node = fs.readFileSync(path.join(runtime, "bin", "node"))
    for (const tree of [debTree, rpmTree]) {
      const packaged = path.join(tree, "usr/lib/cloudbackup-updater/node/bin/node")
      expect((fs.statSync(packaged).mode & 0o7777).toString(8)).toBe("755")
      expect(fs.readFileSync(packaged).equals(node)).toBe(true)
    }
    const license = fs.readFileSync(path.join(runtime, "LICENSE"))
    expect(fs.readFileSync(path.join(debTree, "usr/share/doc/cloudbackup-updater/LICENSE.node")).equals(license)).toBe(true)
    expect(fs.readFileSync(path.join(rpmTree, "usr/share/licenses/cloudbackup-updater/LICENSE.node")).equals(license)).toBe(true)
    const rpmFiles = rpmq("--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]")
    expect(rpmFiles).toMatch(/^l \/usr\/share\/licenses\/cloudbackup-updater\/LICENSE\.node$/m)
  })

  it("has the launcher with the runtime as its interpreter, which runs the packaged bundle", () => {
    for (const tree of [debTree, rpmTree]) {
      const launcher = fs.readFileSync(path.join(tree, "usr/bin/cloudbackup-updater"), "utf8")
      expect(launcher.split("\n")[0]).toBe("#!/usr/lib/cloudbackup-updater/node/bin/node")
      expect(launcher).toBe(fs.readFileSync(path.join(REPO, "dist", "launcher-bundled-node.js"), "utf8"))
    }
    // The packaged node, running the packaged launcher pointed at the packaged bundle.
    const lib = path.join(debTree, "usr/lib/cloudbackup-updater")
    const launcher = path.join(work, "cloudbackup-updater")
    fs.writeFileSync(
      launcher,
      fs.readFileSync(path.join(debTree, "usr/bin/cloudbackup-updater"), "utf8").split("/usr/lib/cloudbackup-updater/cloudbackup-updater.js").join(
        path.join(lib, "cloudbackup-updater.js")
      )
    )
    const node = path.join(lib, "node/bin/node")
    expect(run(node, ["-p", "process.versions.node"]).trim()).toBe(RUNTIME.version)
    expect(run(node, [launcher, "--version"]).trim()).toBe(VERSION)
  })

  it("lintian reports nothing beyond the overrides it ships (packaging/debian/lintian-overrides.bundled)", (context) => {
    context.skip(!onPath("lintian"), "lintian is not installed: packaging/setup-host.sh installs it")
    const result = spawnSync("lintian", ["--no-cfg", "--pedantic", "--display-info", "--display-experimental", "--fail-on", "none", deb], {
      encoding: "utf8",
      maxBuffer: 16 * 1024 * 1024
    })
    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout.split("\n").filter((line) => /^[EWIPX]: /.test(line))).toEqual([])
  }, 300_000)

  it("rpmlint reports only what the noarch rpm does, and the official build's own traits", (context) => {
    context.skip(!onPath("rpmlint"), "rpmlint is not installed: packaging/setup-host.sh installs it")
    const config = fs.mkdtempSync(path.join(work, "rpmlint-config-"))
    const result = spawnSync("rpmlint", [rpm], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024, env: { ...process.env, XDG_CONFIG_HOME: config } })
    const findings = result.stdout.split("\n").filter((line) => /^\S+: [EW]: /.test(line)).map((line) => line.replace(/^\S+: /, ""))
    const NODE = "/usr/lib/cloudbackup-updater/node/bin/node"
    const accepted = [
      // The official build, byte for byte (see lintian-overrides.bundled).
      `W: unstripped-binary-or-object ${NODE}`,
      `W: position-independent-executable-suggested ${NODE}`,
      `W: binary-or-shlib-calls-gethostbyname ${NODE}`
    ]
    // The rest are the noarch rpm's, with their reasons in packages.test.ts.
    const noarch = /^(E: no-signature|W: no-url-tag|E: no-group-tag|W: no-manual-page-for-binary cloudbackup-updater|W: manpage-not-compressed bz2 .*|W: invalid-license (Apache-2\.0|MIT|ISC|BSD-3-Clause|Unicode-3\.0|Zlib)|W: dangerous-command-in-%(pre|post|posttrans|postun) rm|E: missing-dependency-to-logrotate .*|E: logrotate-log-dir-not-packaged \/var\/log)$/
    expect(findings.filter((f) => !accepted.includes(f) && !noarch.test(f))).toEqual([])
  }, 300_000)
})
