/**
 * The .deb and .rpm that packaging/build.sh makes of the bundle, inspected as files: metadata,
 * dependencies, file lists and modes, conffiles, scriptlets and the unit file. Nothing is
 * installed: dpkg-deb and rpm only read the package files (rpm with a throwaway --dbpath).
 * Needs dpkg-deb, rpmbuild, rpm and rpm2archive (packaging/setup-host.sh); the lintian, rpmlint
 * and systemd-analyze checks run where those are installed (setup-host.sh installs the first two).
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Cli from "../../src/main/Cli.js"
import * as Completions from "../../src/main/Completions.js"

const REPO = path.resolve(__dirname, "../..")
const BUNDLE = path.join(REPO, "dist", "cloudbackup-updater.js")
const LAUNCHER = path.join(REPO, "dist", "launcher.js")
/** The bundle as installed in /usr/lib/cloudbackup-updater: a module, without dist's interpreter line. */
const installedBundle = () => {
  const text = fs.readFileSync(BUNDLE)
  expect(text.subarray(0, 20).toString()).toBe("#!/usr/bin/env node\n")
  return text.subarray(20)
}
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
  // One staged pass per run of the timer: nothing resident, a failure shows in systemctl --failed.
  expect(unit.get("Service.ExecStart")).toEqual(["/usr/bin/cloudbackup-updater --staged $CLOUDBACKUP_UPDATER_OPTS"])
  expect(unit.get("Service.Environment")).toEqual(["CLOUDBACKUP_UPDATER_OPTS="])
  expect(unit.get("Service.EnvironmentFile")).toEqual([`-${environmentFile}`])
  expect(unit.get("Service.Type")).toEqual(["oneshot"])
  expect(unit.get("Service.KillMode")).toEqual(["mixed"])
  expect(unit.get("Service.PrivateTmp")).toEqual(["yes"])
  // Started by the timer only: no [Install] section, no restart loop.
  for (const absent of ["Install.WantedBy", "Service.Restart", "Service.RemainAfterExit"]) {
    expect(unit.has(absent), absent).toBe(false)
  }
  // The package manager must be able to write /usr, /etc, /var: no read-only system, no pidfile tracking.
  for (const absent of ["Service.ProtectSystem", "Service.ReadOnlyPaths", "Service.PIDFile", "Service.ProtectHome"]) {
    expect(unit.has(absent), absent).toBe(false)
  }
}

const expectTimer = (text: string) => {
  const timer = unitSettings(text)
  expect(timer.get("Timer.OnActiveSec")).toEqual(["10s"])
  expect(timer.get("Timer.OnUnitInactiveSec")).toEqual(["1h"])
  expect(timer.get("Install.WantedBy")).toEqual(["timers.target"])
  expect(timer.has("Timer.Unit"), "the timer runs cloudbackup-updater.service, its namesake").toBe(false)
}

const expectOptionsFile = (text: string) => {
  // Both sh (SysV) and systemd (EnvironmentFile=) read it: plain assignments only.
  const assignments = text.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"))
  expect(assignments).toEqual(['CLOUDBACKUP_UPDATER_OPTS=""'])
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
      "-rw-r--r-- root/root /lib/systemd/system/cloudbackup-updater.timer",
      "-rw-r--r-- root/root /usr/lib/cloudbackup-updater/cloudbackup-updater.js",
      "-rw-r--r-- root/root /usr/share/bash-completion/completions/cloudbackup-updater",
      "-rw-r--r-- root/root /usr/share/doc/cloudbackup-updater/changelog.Debian.gz",
      "-rw-r--r-- root/root /usr/share/doc/cloudbackup-updater/copyright",
      "-rw-r--r-- root/root /usr/share/lintian/overrides/cloudbackup-updater",
      "-rw-r--r-- root/root /usr/share/man/man8/cloudbackup-updater.8.gz",
      "-rw-r--r-- root/root /usr/share/zsh/vendor-completions/_cloudbackup-updater",
      "-rwxr-xr-x root/root /etc/init.d/cloudbackup-updater",
      "-rwxr-xr-x root/root /usr/bin/cloudbackup-updater"
    ])
  })

  it("installs the launcher as /usr/bin/cloudbackup-updater (#!/usr/bin/node) and the bundle in /usr/lib/cloudbackup-updater", () => {
    const launcher = fs.readFileSync(path.join(debTree, "usr/bin/cloudbackup-updater"))
    expect(launcher.equals(fs.readFileSync(LAUNCHER))).toBe(true)
    expect(launcher.toString().split("\n")[0]).toBe("#!/usr/bin/node")
    expect(fs.readFileSync(path.join(debTree, "usr/lib/cloudbackup-updater/cloudbackup-updater.js")).equals(installedBundle())).toBe(true)
    // V8's compile cache directory (the launcher's), owned by the package and root's.
    expect(modeOf(path.join(debTree, "var/cache/cloudbackup-updater"))).toBe("0755")
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
    expect(postinst).toMatch(/deb-systemd-helper enable \$TIMER/)
    expect(postinst).toMatch(/update-rc\.d cloudbackup-updater defaults/)
    expect(postinst).toMatch(/\[ -d \/run\/systemd\/system \]/)
    expect(postinst).toMatch(/deb-systemd-invoke restart \$TIMER \|\|/)
    expect(postinst).toMatch(/invoke-rc\.d cloudbackup-updater \$action \|\|/)
    // A daemon-era install (before 2.1.0) moves to the timer.
    expect(postinst).toMatch(/dpkg --compare-versions "\$2" lt 2\.1\.0~/)
    const prerm = read(debControl, "prerm")
    expect(prerm).toMatch(/deb-systemd-invoke stop \$NAME\.timer \$NAME\.service/)
    expect(prerm).toMatch(/invoke-rc\.d cloudbackup-updater stop/)
    const postrm = read(debControl, "postrm")
    expect(postrm).toMatch(/update-rc\.d cloudbackup-updater remove/)
    expect(postrm).toMatch(/rm -rf \/var\/lib\/\$NAME/)
    // The daemon's own rotations and logrotate's dated ones.
    expect(postrm).toMatch(/rm -f \/var\/log\/\$NAME\.log \/var\/log\/\$NAME\.log\.\* \/var\/log\/\$NAME\.log-\*/)
  })

  it("runs a staged pass from a timer, with a unit reading /etc/default/cloudbackup-updater", () => {
    expectUnit(read(debTree, "lib/systemd/system/cloudbackup-updater.service"), "/etc/default/cloudbackup-updater")
    expectTimer(read(debTree, "lib/systemd/system/cloudbackup-updater.timer"))
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

  it("rotates the daemon log weekly under dated names, keeping 4 compressed, by copy and truncate", () => {
    const config = read(debTree, "etc/logrotate.d/cloudbackup-updater")
    expect(config).toMatch(/^\/var\/log\/cloudbackup-updater\.log \{$/m)
    for (const directive of ["weekly", "rotate 4", "dateext", "compress", "missingok", "notifempty", "copytruncate"]) {
      expect(config).toMatch(new RegExp(`^\\s+${directive}$`, "m"))
    }
  })
})

describe("the .rpm", () => {
  it("is cloudbackup-updater at package.json's version, noarch, needing nodejs(engine) >= 18 (no epoch can meet it)", () => {
    expect(rpmq("--qf", "%{NAME} %{VERSION} %{RELEASE} %{ARCH}")).toBe(`${NAME} ${PACKAGE_VERSION} 1 noarch`)
    const requires = rpmq("-R").trim().split("\n")
    expect(requires).toContain("nodejs(engine) >= 18")
    // What rpmbuild adds: interpreters of the scriptlets and of the launcher, and rpmlib features.
    expect(requires.filter((r) => !/^(rpmlib\(|config\(cloudbackup-updater\))/.test(r)).sort()).toEqual([
      "/bin/sh",
      "/bin/sh",
      "/bin/sh",
      "/bin/sh",
      "/bin/sh",
      "/bin/sh",
      "/usr/bin/node",
      "nodejs(engine) >= 18"
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
      "-rw-r--r-- root/root  /usr/lib/cloudbackup-updater/cloudbackup-updater.js",
      "-rw-r--r-- root/root  /usr/lib/systemd/system/cloudbackup-updater.service",
      "-rw-r--r-- root/root  /usr/lib/systemd/system/cloudbackup-updater.timer",
      "-rw-r--r-- root/root  /usr/share/bash-completion/completions/cloudbackup-updater",
      "-rw-r--r-- root/root  /usr/share/zsh/site-functions/_cloudbackup-updater",
      "-rw-r--r-- root/root cn /etc/logrotate.d/cloudbackup-updater",
      "-rw-r--r-- root/root cn /etc/sysconfig/cloudbackup-updater",
      "-rw-r--r-- root/root d /usr/share/man/man8/cloudbackup-updater.8.gz",
      "-rw-r--r-- root/root l /usr/share/licenses/cloudbackup-updater/copyright",
      "-rwxr-xr-x root/root  /etc/rc.d/init.d/cloudbackup-updater",
      "-rwxr-xr-x root/root  /usr/bin/cloudbackup-updater",
      "drwxr-xr-x root/root  /usr/lib/cloudbackup-updater",
      "drwxr-xr-x root/root  /usr/share/licenses/cloudbackup-updater",
      "drwxr-xr-x root/root  /var/cache/cloudbackup-updater",
      "drwxr-xr-x root/root  /var/lib/cloudbackup-updater"
    ])
  })

  it("installs the launcher as /usr/bin/cloudbackup-updater and the bundle in /usr/lib/cloudbackup-updater", () => {
    expect(fs.readFileSync(path.join(rpmTree, "usr/bin/cloudbackup-updater")).equals(fs.readFileSync(LAUNCHER))).toBe(true)
    expect(fs.readFileSync(path.join(rpmTree, "usr/lib/cloudbackup-updater/cloudbackup-updater.js")).equals(installedBundle())).toBe(true)
  })

  it("has parseable scriptlets that enable and start, restart, stop, and clean up on erase", () => {
    const scripts = rpmq("--scripts")
    const scriptlet = (name: string) => {
      const match = new RegExp(`^${name} scriptlet \\(using /bin/sh\\):\\n([\\s\\S]*?)(?=^\\w+ scriptlet \\(|(?![\\s\\S]))`, "m").exec(scripts)
      expect(match, `${name} scriptlet`).not.toBeNull()
      expectParses(match![1]!)
      return match![1]!
    }
    // %pre notes a daemon-era install, %post enables, %posttrans (re)starts once every file is in place.
    expect(scriptlet("preinstall")).toMatch(/grep -qs '\^ExecStart=\/usr\/bin\/cloudbackup-updater -d '/)
    const post = scriptlet("postinstall")
    expect(post).toMatch(/systemctl --no-reload enable \$NAME\.timer/)
    expect(post).toMatch(/chkconfig --add \$NAME/)
    expect(post).not.toMatch(/systemctl (start|restart|try-restart)|"\$INIT" (start|condrestart)/)
    const posttrans = scriptlet("posttrans")
    expect(posttrans).toMatch(/systemctl restart \$NAME\.timer \|\|/)
    expect(posttrans).toMatch(/"\$INIT" start \|\|/)
    expect(posttrans).toMatch(/"\$INIT" condrestart \|\|/)
    // No init system (a container, an image build): nothing starts.
    expect(posttrans).toMatch(/\[ -d \/run\/systemd\/system \]/)
    expect(posttrans).toMatch(/runlevel=\$\(runlevel 2>\/dev\/null\)/)
    const preun = scriptlet("preuninstall")
    expect(preun).toMatch(/if \[ "\$1" -eq 0 \]/)
    expect(preun).toMatch(/systemctl stop \$NAME\.timer \$NAME\.service/)
    expect(preun).toMatch(/"\$INIT" stop/)
    expect(preun).toMatch(/chkconfig --del \$NAME/)
    const postun = scriptlet("postuninstall")
    expect(postun).toMatch(/if \[ "\$1" -eq 0 \]/)
    expect(postun).toMatch(/rm -rf \/var\/lib\/\$NAME/)
    expect(postun).toMatch(/rm -f \/var\/log\/\$NAME\.log \/var\/log\/\$NAME\.log\.\* \/var\/log\/\$NAME\.log-\*/)
  })

  it("runs a staged pass from a timer, with a unit reading /etc/sysconfig/cloudbackup-updater", () => {
    expectUnit(read(rpmTree, "usr/lib/systemd/system/cloudbackup-updater.service"), "/etc/sysconfig/cloudbackup-updater")
    expectTimer(read(rpmTree, "usr/lib/systemd/system/cloudbackup-updater.timer"))
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

describe("the systemd units", () => {
  it.runIf(onPath("systemd-analyze"))("passes systemd-analyze verify", () => {
    // verify checks that ExecStart's program exists: point it at one that does.
    const unit = read(debTree, "lib/systemd/system/cloudbackup-updater.service").replace(
      "ExecStart=/usr/bin/cloudbackup-updater",
      `ExecStart=${process.execPath} ${path.join(debTree, "usr/bin/cloudbackup-updater")}`
    )
    const file = path.join(work, "cloudbackup-updater.service")
    fs.writeFileSync(file, unit)
    // The timer beside it: verify checks that the unit it triggers loads.
    const timer = path.join(work, "cloudbackup-updater.timer")
    fs.copyFileSync(path.join(debTree, "lib/systemd/system/cloudbackup-updater.timer"), timer)
    const result = spawnSync("systemd-analyze", ["verify", "--man=no", file, timer], { encoding: "utf8" })
    expect(result.status, result.stderr).toBe(0)
    expect(result.stderr.trim()).toBe("")
  })
})

describe("the shell completions", () => {
  const built = (name: string) => fs.readFileSync(path.join(REPO, "dist", "completions", name), "utf8")
  const trees = () =>
    [[debTree, "usr/share/zsh/vendor-completions"], [rpmTree, "usr/share/zsh/site-functions"]] as const

  it("are what the option specs make (npm run build is current)", () => {
    for (const [name, text] of Object.entries(Completions.files(Cli.completionSpec))) expect(built(name), name).toBe(text)
  })

  it("are in both packages: bash's in bash-completion/completions, zsh's in the family's $fpath directory", () => {
    for (const [tree, zshDir] of trees()) {
      expect(read(tree, `usr/share/bash-completion/completions/${NAME}`)).toBe(built(NAME))
      expect(read(tree, `${zshDir}/_${NAME}`)).toBe(built(`_${NAME}`))
    }
    const bash = path.join(debTree, "usr/share/bash-completion/completions", NAME)
    expect(spawnSync("bash", ["-n", bash], { encoding: "utf8" }).status).toBe(0)
    expect(read(debTree, `usr/share/bash-completion/completions/${NAME}`)).toMatch(/^complete -F _cloudbackup_updater cloudbackup-updater$/m)
    expect(read(debTree, `usr/share/zsh/vendor-completions/_${NAME}`).split("\n")[0]).toBe(`#compdef ${NAME}`)
  })
})

/**
 * What lintian and rpmlint may report: each accepted finding with the reason it stays. Any other
 * finding fails, and so does an entry that no longer matches anything (delete it). lintian's
 * overrides ship in the .deb (packaging/debian/lintian-overrides, each with its reason) and are
 * not reported; lintian reports an override that no longer matches itself (unused-override).
 */
interface Accepted {
  /** `<severity>: <tag> <details>`, as the tool prints it after the package name. */
  readonly finding: RegExp
  readonly why: string
}

const LINTIAN_ACCEPTED: ReadonlyArray<Accepted> = []

const RPMLINT_ACCEPTED: ReadonlyArray<Accepted> = [
  {
    finding: /^E: no-signature$/,
    why: "release packages are signed with the repository's key (rpmsign) after the build, not by it"
  },
  {
    finding: /^W: only-non-binary-in-usr-lib$/,
    why: "systemd units belong in /usr/lib/systemd/system; Debian's rpmlint configuration lacks " +
      "Fedora's and openSUSE's exception for it"
  },
  {
    finding: /^W: no-manual-page-for-binary cloudbackup-updater$/,
    why: "rpmlint 2.4.0 bug: it records a man page's section (8), not its name; the package has " +
      "/usr/share/man/man8/cloudbackup-updater.8.gz"
  },
  {
    finding: /^W: manpage-not-compressed bz2 \/usr\/share\/man\/man8\/cloudbackup-updater\.8\.gz$/,
    why: "Debian's rpmlint configuration expects bzip2; Red Hat and SUSE compress man pages with gzip"
  },
  {
    finding: /^W: invalid-license (Apache-2\.0|MIT|ISC)$/,
    why: "SPDX identifiers, which Fedora requires; Debian's rpmlint configuration lists no valid licenses"
  },
  {
    finding: /^E: missing-dependency-to-logrotate for logrotate script \/etc\/logrotate\.d\/cloudbackup-updater$/,
    why: "logrotate only adds history: the daemon rotates its log by size itself, and under systemd " +
      "the passes log to the journal; a hard dependency would pull logrotate into minimal hosts"
  },
  {
    finding: /^E: logrotate-log-dir-not-packaged \/var\/log$/,
    why: "the log is /var/log/cloudbackup-updater.log, the original updater's path; /var/log is the " +
      "filesystem package's"
  },
  {
    finding: /^W: no-url-tag$/,
    why: "the project has no home page yet (nor a maintainer address: PACKAGE_MAINTAINER); add URL: " +
      "to the spec when it has"
  },
  {
    finding: /^E: no-group-tag$/,
    why: "Group: is deprecated and ignored by Fedora and RHEL; only SUSE still shows it"
  },
  {
    finding: /^W: dangerous-command-in-%(pre|post|posttrans|postun) rm$/,
    why: "%pre and %posttrans clear the scriptlets' scratch directory /var/lib/rpm-state/cloudbackup-updater, " +
      "%post removes the former daemon's multi-user.target.wants link, %postun deletes the state and " +
      "logs on erase (as the .deb's purge does)"
  }
]

/** The findings that `accepted` does not explain, and the entries of `accepted` that explain none. */
const judged = (findings: ReadonlyArray<string>, accepted: ReadonlyArray<Accepted>) => ({
  unexpected: findings.filter((finding) => !accepted.some(({ finding: pattern }) => pattern.test(finding))),
  unused: accepted.filter(({ finding: pattern }) => !findings.some((finding) => pattern.test(finding))).map(
    ({ finding }) => String(finding)
  )
})

describe("lintian and rpmlint", () => {
  it("lintian (pedantic, info and experimental tags too) reports nothing but the accepted findings", (context) => {
    context.skip(!onPath("lintian"), "lintian is not installed: packaging/setup-host.sh installs it")
    const result = spawnSync(
      "lintian",
      ["--no-cfg", "--pedantic", "--display-info", "--display-experimental", "--fail-on", "none", deb],
      { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 }
    )
    expect(result.status, result.stderr).toBe(0)
    const findings = result.stdout
      .split("\n")
      .map((line) => /^([EWIPX]): cloudbackup-updater(?: \S+)?: (.*)$/.exec(line))
      .flatMap((match) => (match === null ? [] : [`${match[1]}: ${match[2]}`]))
    expect(judged(findings, LINTIAN_ACCEPTED)).toEqual({ unexpected: [], unused: [] })
  }, 120_000)

  it("rpmlint reports no error or warning but the accepted findings", (context) => {
    context.skip(!onPath("rpmlint"), "rpmlint is not installed: packaging/setup-host.sh installs it")
    // No user configuration (~/.config/rpmlint): Debian's rpmlint defaults only.
    const config = fs.mkdtempSync(path.join(work, "rpmlint-config-"))
    const result = spawnSync("rpmlint", [rpm], {
      encoding: "utf8",
      maxBuffer: 16 * 1024 * 1024,
      env: { ...process.env, XDG_CONFIG_HOME: config }
    })
    // 0: clean; 64: errors found; 66: over the badness threshold. The findings decide.
    expect([0, 64, 66], `${result.stdout}\n${result.stderr}`).toContain(result.status)
    expect(result.stdout).toMatch(/^ ?1 packages and 0 specfiles checked/m)
    const lines = result.stdout.split("\n").filter((line) => /^\S+: [EW]: /.test(line))
    const findings = lines.map((line) => {
      expect(line).toMatch(/^cloudbackup-updater\.noarch: /)
      return line.replace(/^\S+: /, "")
    })
    expect(judged(findings, RPMLINT_ACCEPTED)).toEqual({ unexpected: [], unused: [] })
  }, 120_000)
})
