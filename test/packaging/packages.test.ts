/**
 * The .deb and .rpm that packaging/build.sh makes of the bundle, inspected as files: metadata,
 * dependencies, file lists and modes, conffiles, scriptlets and the unit file. Nothing is
 * installed: dpkg-deb and rpm only read the package files (rpm with a throwaway --dbpath).
 * Needs dpkg-deb, rpmbuild, rpm and rpm2archive (packaging/setup-host.sh); lintian and
 * systemd-analyze checks run where those are installed.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const REPO = path.resolve(__dirname, "../..")
const BUNDLE = path.join(REPO, "dist", "cloudbackup-updater.js")
const NAME = "cloudbackup-updater"
const VERSION = (JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { version: string }).version
const PACKAGE_VERSION = VERSION.replace(/-/g, "~")

const run = (command: string, args: ReadonlyArray<string>, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) =>
  execFileSync(command, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...options })

const onPath = (program: string) =>
  (process.env["PATH"] ?? "").split(":").some((dir) => dir !== "" && fs.existsSync(path.join(dir, program)))

let work: string
let deb: string
let rpm: string
let debTree: string
let debControl: string
let rpmTree: string
let rpmDb: string

const rpmq = (...args: ReadonlyArray<string>) => run("rpm", ["--dbpath", rpmDb, "-qp", ...args, rpm])

beforeAll(() => {
  if (!fs.existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "npm run build" first`)
  work = fs.mkdtempSync(path.join(os.tmpdir(), "cloudbackup-updater-packages-"))
  const out = path.join(work, "out")
  const printed = run("bash", [path.join(REPO, "packaging", "build.sh")], {
    env: { ...process.env, PACKAGE_OUT_DIR: out }
  })
  deb = path.join(out, `${NAME}_${PACKAGE_VERSION}-1_all.deb`)
  rpm = path.join(out, `${NAME}-${PACKAGE_VERSION}-1.noarch.rpm`)
  expect(printed.trim().split("\n")).toEqual([deb, rpm])

  debTree = path.join(work, "deb")
  debControl = path.join(work, "deb-control")
  run("dpkg-deb", ["-x", deb, debTree])
  run("dpkg-deb", ["-e", deb, debControl])
  rpmTree = path.join(work, "rpm")
  rpmDb = path.join(work, "rpmdb")
  fs.mkdirSync(rpmTree)
  fs.mkdirSync(rpmDb)
  const tar = spawnSync("rpm2archive", ["-n", "-"], { input: fs.readFileSync(rpm), maxBuffer: 64 * 1024 * 1024 })
  if (tar.status !== 0) throw new Error(`rpm2archive failed: ${tar.stderr}`)
  fs.writeFileSync(path.join(work, "rpm.tar"), tar.stdout)
  run("tar", ["-xf", path.join(work, "rpm.tar"), "-C", rpmTree])
}, 120_000)

afterAll(() => {
  if (work !== undefined) fs.rmSync(work, { recursive: true, force: true })
})

const read = (tree: string, file: string) => fs.readFileSync(path.join(tree, file), "utf8")
const modeOf = (file: string) => (fs.statSync(file).mode & 0o7777).toString(8).padStart(4, "0")
/** `sh -n`: the shell script parses. */
const expectParses = (script: string) => {
  const result = spawnSync("sh", ["-n"], { input: script, encoding: "utf8" })
  expect(result.status, result.stderr).toBe(0)
}
/** The unit file's Key=value lines (last one wins, as in systemd), by section. */
const unitSettings = (text: string) => {
  const settings = new Map<string, string[]>()
  let section = ""
  for (const line of text.split("\n").map((l) => l.trim())) {
    if (line === "" || line.startsWith("#")) continue
    const header = /^\[(.+)\]$/.exec(line)
    if (header !== null) {
      section = header[1]!
      continue
    }
    const eq = line.indexOf("=")
    const key = `${section}.${line.slice(0, eq)}`
    settings.set(key, [...(settings.get(key) ?? []), line.slice(eq + 1)])
  }
  return settings
}

const expectUnit = (text: string, environmentFile: string) => {
  const unit = unitSettings(text)
  expect(unit.get("Service.ExecStart")).toEqual(["/usr/bin/cloudbackup-updater -d $CLOUDBACKUP_UPDATER_OPTS"])
  expect(unit.get("Service.Environment")).toEqual(["CLOUDBACKUP_UPDATER_OPTS=-v"])
  expect(unit.get("Service.EnvironmentFile")).toEqual([`-${environmentFile}`])
  expect(unit.get("Service.Type")).toEqual(["simple"])
  expect(unit.get("Service.Restart")).toEqual(["on-failure"])
  expect(unit.get("Service.RestartPreventExitStatus")).toEqual(["2 3"])
  expect(unit.get("Service.KillMode")).toEqual(["mixed"])
  expect(unit.get("Service.PrivateTmp")).toEqual(["yes"])
  expect(unit.get("Install.WantedBy")).toEqual(["multi-user.target"])
  // The package manager must be able to write /usr, /etc, /var: no read-only system, no pidfile tracking.
  for (const absent of ["Service.ProtectSystem", "Service.ReadOnlyPaths", "Service.PIDFile", "Service.ProtectHome"]) {
    expect(unit.has(absent), absent).toBe(false)
  }
}

const expectOptionsFile = (text: string) => {
  // Both sh (SysV) and systemd (EnvironmentFile=) read it: plain assignments only.
  const assignments = text.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"))
  expect(assignments).toEqual(['CLOUDBACKUP_UPDATER_OPTS="-v"'])
}

describe("the .deb", () => {
  const field = (name: string) => run("dpkg-deb", ["-f", deb, name]).trim()

  it("is cloudbackup-updater at package.json's version, for all architectures, needing Node.js >= 18", () => {
    expect(field("Package")).toBe(NAME)
    expect(field("Version")).toBe(`${PACKAGE_VERSION}-1`)
    expect(field("Architecture")).toBe("all")
    expect(field("Depends")).toBe("nodejs (>= 18)")
    expect(field("Section")).toBe("admin")
    expect(field("Priority")).toBe("optional")
    expect(field("Maintainer")).toMatch(/^[^<>]+ <[^<>@\s]+@[^<>@\s]+>$/)
    expect(field("Description")).toMatch(/driveclient/)
    expect(Number(field("Installed-Size"))).toBeGreaterThan(0)
  })

  it("holds exactly these files, owned by root, with these modes", () => {
    const listing = run("dpkg-deb", ["-c", deb])
      .trim()
      .split("\n")
      .map((line) => line.split(/\s+/))
      .filter(([perms]) => !perms!.startsWith("d"))
      .map(([perms, owner, , , , name]) => `${perms} ${owner} ${name!.replace(/^\.\//, "/")}`)
      .sort()
    expect(listing).toEqual([
      "-rw-r--r-- root/root /etc/default/cloudbackup-updater",
      "-rw-r--r-- root/root /etc/logrotate.d/cloudbackup-updater",
      "-rw-r--r-- root/root /lib/systemd/system/cloudbackup-updater.service",
      "-rw-r--r-- root/root /usr/share/doc/cloudbackup-updater/changelog.Debian.gz",
      "-rw-r--r-- root/root /usr/share/doc/cloudbackup-updater/copyright",
      "-rw-r--r-- root/root /usr/share/lintian/overrides/cloudbackup-updater",
      "-rw-r--r-- root/root /usr/share/man/man8/cloudbackup-updater.8.gz",
      "-rwxr-xr-x root/root /etc/init.d/cloudbackup-updater",
      "-rwxr-xr-x root/root /usr/bin/cloudbackup-updater"
    ])
  })

  it("installs the bundle itself as /usr/bin/cloudbackup-updater", () => {
    const installed = fs.readFileSync(path.join(debTree, "usr/bin/cloudbackup-updater"))
    expect(installed.equals(fs.readFileSync(BUNDLE))).toBe(true)
    expect(installed.subarray(0, 20).toString()).toBe("#!/usr/bin/env node\n")
  })

  it("marks the options, the init script and the logrotate file as conffiles", () => {
    expect(read(debControl, "conffiles").trim().split("\n")).toEqual([
      "/etc/default/cloudbackup-updater",
      "/etc/init.d/cloudbackup-updater",
      "/etc/logrotate.d/cloudbackup-updater"
    ])
  })

  it("has md5sums of every file", () => {
    const sums = read(debControl, "md5sums")
      .trim()
      .split("\n")
      .map((line) => line.split(/\s+/))
    const files = run("find", [".", "-type", "f", "-printf", "%P\n"], { cwd: debTree }).trim().split("\n").sort()
    expect(sums.map(([, file]) => file).sort()).toEqual(files)
    for (const [sum, file] of sums) {
      expect(run("md5sum", [file!], { cwd: debTree }).split(" ")[0], file).toBe(sum)
    }
  })

  it("has executable, parseable maintainer scripts that start, restart, stop and purge the service", () => {
    for (const script of ["postinst", "prerm", "postrm"]) {
      expect(modeOf(path.join(debControl, script)), script).toBe("0755")
      expectParses(read(debControl, script))
    }
    const postinst = read(debControl, "postinst")
    expect(postinst).toMatch(/deb-systemd-helper enable cloudbackup-updater\.service/)
    expect(postinst).toMatch(/update-rc\.d cloudbackup-updater defaults/)
    expect(postinst).toMatch(/\[ -d \/run\/systemd\/system \]/)
    expect(postinst).toMatch(/deb-systemd-invoke \$action cloudbackup-updater\.service \|\|/)
    expect(postinst).toMatch(/invoke-rc\.d cloudbackup-updater \$action \|\|/)
    expect(read(debControl, "prerm")).toMatch(/invoke-rc\.d cloudbackup-updater stop/)
    const postrm = read(debControl, "postrm")
    expect(postrm).toMatch(/update-rc\.d cloudbackup-updater remove/)
    expect(postrm).toMatch(/rm -rf \/var\/lib\/cloudbackup-updater/)
    expect(postrm).toMatch(/rm -f \/var\/log\/cloudbackup-updater\.log \/var\/log\/cloudbackup-updater\.log\.\*/)
  })

  it("runs the daemon from a unit reading /etc/default/cloudbackup-updater", () => {
    expectUnit(read(debTree, "lib/systemd/system/cloudbackup-updater.service"), "/etc/default/cloudbackup-updater")
    expectOptionsFile(read(debTree, "etc/default/cloudbackup-updater"))
  })

  it("has an LSB init script backgrounding the daemon with start-stop-daemon", () => {
    const init = read(debTree, "etc/init.d/cloudbackup-updater")
    expectParses(init)
    expect(init).toMatch(/^### BEGIN INIT INFO\n# Provides: +cloudbackup-updater\n/m)
    expect(init).toMatch(/^# Default-Start: +2 3 4 5$/m)
    expect(init).toMatch(/start-stop-daemon --start .*--background/)
    expect(init).toMatch(/--startas "\$DAEMON" -- -d \$CLOUDBACKUP_UPDATER_OPTS/)
    expect(init).toMatch(/^PIDFILE=\/run\/cloudbackup-updater\.pid$/m)
    expect(init).toMatch(/\. \/etc\/default\/\$NAME/)
    for (const action of ["start)", "stop)", "restart | force-reload)", "status)"]) expect(init).toContain(action)
  })

  it("rotates the daemon log weekly, keeping 4 compressed, by copy and truncate", () => {
    const config = read(debTree, "etc/logrotate.d/cloudbackup-updater")
    expect(config).toMatch(/^\/var\/log\/cloudbackup-updater\.log \{$/m)
    for (const directive of ["weekly", "rotate 4", "compress", "missingok", "notifempty", "copytruncate"]) {
      expect(config).toMatch(new RegExp(`^\\s+${directive}$`, "m"))
    }
  })

  it.runIf(onPath("lintian"))("passes lintian (pedantic), with only the overrides it ships", () => {
    const result = spawnSync("lintian", ["--pedantic", "-I", "-E", "--fail-on", "none", deb], { encoding: "utf8" })
    expect(result.status, result.stderr).toBe(0)
    const tags = result.stdout.split("\n").filter((line) => /^[EWIPX]: /.test(line))
    expect(tags).toEqual([])
  }, 120_000)
})

describe("the .rpm", () => {
  it("is cloudbackup-updater at package.json's version, noarch, needing nodejs >= 18", () => {
    expect(rpmq("--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH}")).toBe(`${NAME} ${PACKAGE_VERSION} 1 noarch`)
    const requires = rpmq("-R").trim().split("\n")
    expect(requires).toContain("nodejs >= 18")
    // What rpmbuild adds: interpreters of the scriptlets and of the bundle, and rpmlib features.
    expect(requires.filter((r) => !/^(rpmlib\(|config\(cloudbackup-updater\))/.test(r)).sort()).toEqual([
      "/bin/sh",
      "/bin/sh",
      "/bin/sh",
      "/bin/sh",
      "/usr/bin/env",
      "nodejs >= 18"
    ])
  })

  it("has the same version as the .deb", () => {
    const debVersion = run("dpkg-deb", ["-f", deb, "Version"]).trim()
    expect(`${rpmq("--qf", "%{VERSION}-%{RELEASE}")}`).toBe(debVersion)
  })

  it("holds exactly these files, owned by root, with these modes and config flags", () => {
    const listing = rpmq("--qf", "[%{FILEMODES:perms} %{FILEUSERNAME}/%{FILEGROUPNAME} %{FILEFLAGS:fflags} %{FILENAMES}\n]")
      .trim()
      .split("\n")
      .sort()
    expect(listing).toEqual([
      "-rw-r--r-- root/root  /usr/lib/systemd/system/cloudbackup-updater.service",
      "-rw-r--r-- root/root cn /etc/logrotate.d/cloudbackup-updater",
      "-rw-r--r-- root/root cn /etc/sysconfig/cloudbackup-updater",
      "-rw-r--r-- root/root d /usr/share/man/man8/cloudbackup-updater.8.gz",
      "-rw-r--r-- root/root l /usr/share/licenses/cloudbackup-updater/copyright",
      "-rwxr-xr-x root/root  /etc/rc.d/init.d/cloudbackup-updater",
      "-rwxr-xr-x root/root  /usr/bin/cloudbackup-updater",
      "drwxr-xr-x root/root  /usr/share/licenses/cloudbackup-updater",
      "drwxr-xr-x root/root  /var/lib/cloudbackup-updater"
    ])
  })

  it("installs the bundle itself as /usr/bin/cloudbackup-updater", () => {
    expect(fs.readFileSync(path.join(rpmTree, "usr/bin/cloudbackup-updater")).equals(fs.readFileSync(BUNDLE))).toBe(true)
  })

  it("has parseable scriptlets that enable and start, restart, stop, and clean up on erase", () => {
    const scripts = rpmq("--scripts")
    const scriptlet = (name: string) => {
      const match = new RegExp(`^${name} scriptlet \\(using /bin/sh\\):\\n([\\s\\S]*?)(?=^\\w+ scriptlet \\(|(?![\\s\\S]))`, "m").exec(scripts)
      expect(match, `${name} scriptlet`).not.toBeNull()
      expectParses(match![1]!)
      return match![1]!
    }
    const post = scriptlet("postinstall")
    expect(post).toMatch(/systemctl enable "\$UNIT"/)
    expect(post).toMatch(/systemctl start "\$UNIT" \|\|/)
    expect(post).toMatch(/systemctl try-restart "\$UNIT"/)
    expect(post).toMatch(/chkconfig --add \$NAME/)
    expect(post).toMatch(/"\$INIT" start \|\|/)
    expect(post).toMatch(/"\$INIT" condrestart \|\|/)
    const preun = scriptlet("preuninstall")
    expect(preun).toMatch(/if \[ "\$1" -eq 0 \]/)
    expect(preun).toMatch(/systemctl stop "\$UNIT"/)
    expect(preun).toMatch(/"\$INIT" stop/)
    expect(preun).toMatch(/chkconfig --del \$NAME/)
    const postun = scriptlet("postuninstall")
    expect(postun).toMatch(/if \[ "\$1" -eq 0 \]/)
    expect(postun).toMatch(/rm -rf \/var\/lib\/\$NAME/)
    expect(postun).toMatch(/rm -f \/var\/log\/\$NAME\.log \/var\/log\/\$NAME\.log\.\*/)
  })

  it("runs the daemon from a unit reading /etc/sysconfig/cloudbackup-updater", () => {
    expectUnit(read(rpmTree, "usr/lib/systemd/system/cloudbackup-updater.service"), "/etc/sysconfig/cloudbackup-updater")
    expectOptionsFile(read(rpmTree, "etc/sysconfig/cloudbackup-updater"))
  })

  it("has a chkconfig init script backgrounding the daemon", () => {
    const init = read(rpmTree, "etc/rc.d/init.d/cloudbackup-updater")
    expectParses(init)
    expect(init).toMatch(/^# chkconfig: 2345 99 01$/m)
    expect(init).toMatch(/^# description: /m)
    expect(init).toMatch(/\. \/etc\/sysconfig\/\$NAME/)
    expect(init).toMatch(/nohup "\$DAEMON" -d \$CLOUDBACKUP_UPDATER_OPTS <\/dev\/null >\/dev\/null 2>&1 &/)
    for (const action of ["start)", "stop)", "restart | force-reload)", "condrestart | try-restart)", "status)"]) {
      expect(init).toContain(action)
    }
  })
})

describe("the systemd unit", () => {
  it.runIf(onPath("systemd-analyze"))("passes systemd-analyze verify", () => {
    // verify checks that ExecStart's program exists: point it at one that does.
    const unit = read(debTree, "lib/systemd/system/cloudbackup-updater.service").replace(
      "ExecStart=/usr/bin/cloudbackup-updater",
      `ExecStart=${process.execPath} ${path.join(debTree, "usr/bin/cloudbackup-updater")}`
    )
    const file = path.join(work, "cloudbackup-updater.service")
    fs.writeFileSync(file, unit)
    const result = spawnSync("systemd-analyze", ["verify", "--man=no", file], { encoding: "utf8" })
    expect(result.status, result.stderr).toBe(0)
    expect(result.stderr.trim()).toBe("")
  })
})
