/**
 * The bundled flavour for arm64 (PACKAGE_FLAVOUR=bundled PACKAGE_ARCH=arm64), built from the same
 * recipe as amd64 and run, though this machine is x86-64: its files are unpacked into a Debian 12
 * arm64 tree holding only the C and C++ libraries it depends on (mmdebstrap --variant=extract: no
 * foreign program runs to make it), and its own Node.js runs there under qemu's user-mode emulator
 * (qemu-aarch64-static, taken out of Debian's qemu-user-static by packaging/setup-host.sh, so that
 * no binfmt handler is registered on this host). The smoke test: --version, --help and the
 * four-host demonstration, through the packaged launcher and bundle at their installed paths.
 */
import { execFile, execFileSync } from "node:child_process"
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
const QEMU = "qemu-aarch64-static"
/** ELF e_machine of AArch64. */
const EM_AARCH64 = 183

const onPath = (program: string) =>
  (process.env["PATH"] ?? "").split(":").find((dir) => dir !== "" && fs.existsSync(path.join(dir, program)))
const qemu = onPath(QEMU)
const canRun = process.arch === "x64" && process.getuid?.() === 0 && qemu !== undefined && onPath("mmdebstrap") !== undefined
const why = `needs root, ${QEMU} (packaging/setup-host.sh) and mmdebstrap (test/e2e/setup-host.sh)`

const run = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env) =>
  execFileSync(command, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, env })
/** What a root shell in the arm64 tree has: nothing of this test process's environment. */
const TREE_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/root", LANG: "C.UTF-8" }
const runAsync = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env) =>
  promisify(execFile)(command, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, env })

/** The mirror this host's apt uses, as the e2e roots take it. */
const mirror = () => {
  const sources = fs.readFileSync("/etc/apt/sources.list.d/debian.sources", "utf8")
  return process.env["E2E_DEBIAN_MIRROR"] ?? /^URIs:\s*(\S+)/m.exec(sources)?.[1] ?? "http://deb.debian.org/debian"
}

let work = ""
let deb = ""
let rpm = ""
let sysroot = ""

/** Runs `argv` in the arm64 tree under qemu: the packaged node, as the launcher's interpreter line names it. */
const inArm64 = (argv: ReadonlyArray<string>) =>
  run("chroot", [sysroot, `/${QEMU}`, `/usr/lib/${NAME}/node/bin/node`, ...argv], TREE_ENV)

beforeAll(async () => {
  if (!canRun) return
  work = fs.mkdtempSync(path.join(os.tmpdir(), "cloudbackup-updater-arm64-"))
  const out = path.join(work, "out")
  sysroot = path.join(work, "sysroot")
  const tree = path.join(work, "sysroot.tar")
  await Promise.all([
    runAsync("bash", [path.join(REPO, "packaging", "build.sh")], {
      ...process.env,
      PACKAGE_OUT_DIR: out,
      PACKAGE_FLAVOUR: "bundled",
      PACKAGE_ARCH: "arm64"
    }),
    runAsync("mmdebstrap", [
      "--quiet",
      "--variant=extract",
      "--arch=arm64",
      "--include=libc6,libgcc-s1,libstdc++6",
      "bookworm",
      tree,
      mirror()
    ])
  ])
  deb = path.join(out, `${NAME}_${PACKAGE_VERSION}-1_arm64.deb`)
  rpm = path.join(out, `${NAME}-${PACKAGE_VERSION}-1.aarch64.rpm`)
  fs.mkdirSync(sysroot)
  run("tar", ["-C", sysroot, "-xf", tree])
  run("dpkg-deb", ["-x", deb, sysroot])
  fs.copyFileSync(path.join(qemu!, QEMU), path.join(sysroot, QEMU))
  fs.chmodSync(path.join(sysroot, QEMU), 0o755)
}, 900_000)

afterAll(() => {
  if (work !== "") fs.rmSync(work, { recursive: true, force: true })
})

describe.skipIf(!canRun)(canRun ? "the bundled flavour for arm64" : `the bundled flavour for arm64 (skipped: ${why})`, () => {
  it("is the same package for arm64 / aarch64, carrying an AArch64 Node.js", () => {
    expect(run("dpkg-deb", ["-f", deb, "Architecture"]).trim()).toBe("arm64")
    expect(run("dpkg-deb", ["-f", deb, "Depends"]).trim()).toBe("libc6 (>= 2.28), libgcc-s1 | libgcc1, libstdc++6 (>= 7)")
    expect(run("rpm", ["--dbpath", path.join(work, "rpmdb"), "-qp", "--qf", "%{NAME} %{VERSION} %{ARCH}", rpm])).toBe(
      `${NAME} ${PACKAGE_VERSION} aarch64`
    )
    const elf = fs.readFileSync(path.join(sysroot, `usr/lib/${NAME}/node/bin/node`)).subarray(0, 20)
    expect(elf.subarray(0, 4).toString("latin1")).toBe("\x7fELF")
    expect(elf.readUInt16LE(18), "e_machine").toBe(EM_AARCH64)
  })

  it("runs under emulation: its node, the launcher and the bundle at their installed paths", () => {
    expect(inArm64(["-p", "process.arch + ' ' + process.versions.node"]).trim()).toBe(`arm64 ${RUNTIME.version}`)
    expect(inArm64([`/usr/bin/${NAME}`, "--version"]).trim()).toBe(VERSION)
    expect(inArm64([`/usr/bin/${NAME}`, "--help"])).toMatch(/^Usage: cloudbackup-updater /m)
  }, 120_000)

  it("runs the four-host demonstration: real passes over HTTP on 127.0.0.1", () => {
    const demo = inArm64([`/usr/bin/${NAME}`, "simulate"])
    expect(demo).toMatch(/^4 of 4 scenarios kept the contract$/m)
  }, 300_000)
})
