import { describe, expect, it } from "@effect/vitest"
import * as Option from "effect/Option"
import { aptDpkgHooks, dpkgFailureLine, singlePackagePlan } from "../../../../src/layers/packageManagers/apt/ArchiveInstall.js"

const result = (stdout: string, stderr = "") => ({ exitCode: 1, stdout, stderr })

describe("singlePackagePlan", () => {
  it("an upgrade of the agent alone: its version", () => {
    const stdout = "Reading package lists...\nThe following packages will be upgraded:\n  driveclient\n" +
      "1 upgraded, 0 newly installed, 0 to remove and 3 not upgraded.\n" +
      "Inst driveclient [1.1.0-1] (1.2.0-1 driveclient-e2e:serveragent [amd64])\n" +
      "Conf driveclient (1.2.0-1 driveclient-e2e:serveragent [amd64])\n"
    expect(singlePackagePlan(stdout)).toEqual(Option.some("1.2.0-1"))
  })

  it("a first install, arch-qualified, with an epoch", () => {
    expect(singlePackagePlan("Inst driveclient:amd64 (1:2.0-1 agentrepo:serveragent [amd64])\nConf driveclient:amd64 (1:2.0-1 agentrepo:serveragent [amd64])\n"))
      .toEqual(Option.some("1:2.0-1"))
  })

  it.each([
    ["a dependency installed too", "Inst libagent1 (2.0-1 Debian:12 [amd64])\nInst driveclient [1.1.0-1] (1.2.0-1 a:s [amd64])\nConf libagent1 (2.0-1 Debian:12 [amd64])\nConf driveclient (1.2.0-1 a:s [amd64])\n"],
    ["a package removed", "Remv oldagent [0.9-1]\nInst driveclient [1.1.0-1] (1.2.0-1 a:s [amd64])\nConf driveclient (1.2.0-1 a:s [amd64])\n"],
    ["another package configured", "Inst driveclient [1.1.0-1] (1.2.0-1 a:s [amd64])\nConf driveclient (1.2.0-1 a:s [amd64])\nConf halfdone (3.0-1 Debian:12 [amd64])\n"],
    ["nothing to do", "driveclient is already the newest version (1.2.0-1).\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n"],
    ["only a configuration of the agent", "Conf driveclient (1.2.0-1 a:s [amd64])\n"]
  ])("%s: none", (_, stdout) => {
    expect(singlePackagePlan(stdout)).toEqual(Option.none())
  })
})

describe("dpkgFailureLine", () => {
  it("dpkg's error processing line, with the reason on the line after it", () => {
    const file = "/var/cache/apt/archives/driveclient_1.2.0-1_amd64.deb"
    expect(dpkgFailureLine(result(
      "Preparing to unpack .../driveclient_1.2.0-1_amd64.deb ...\n",
      `dpkg: error processing archive ${file} (--install):\n new driveclient package pre-installation script subprocess returned error exit status 1\n` +
        `Errors were encountered while processing:\n ${file}\n`
    ))).toBe(
      `dpkg: error processing archive ${file} (--install): new driveclient package pre-installation script subprocess returned error exit status 1`
    )
  })

  it("else dpkg's own error line", () => {
    expect(dpkgFailureLine(result("", "dpkg: error: dpkg frontend lock was locked by another process with pid 4242\nNote: removing the lock file is always wrong\n")))
      .toBe("dpkg: error: dpkg frontend lock was locked by another process with pid 4242")
  })

  it("else the last line", () => {
    expect(dpkgFailureLine(result("something odd happened\n"))).toBe("something odd happened")
  })
})

describe("aptDpkgHooks", () => {
  const FRESH_DEBIAN = 'DPkg "";\nDPkg::Path "/usr/sbin:/usr/bin:/sbin:/bin";\nDPkg::Pre-Install-Pkgs "";\n' +
    'DPkg::Pre-Install-Pkgs:: "/usr/sbin/dpkg-preconfigure --apt || true";\n'

  it("a fresh Debian's configuration has none: debconf's preconfiguration is not one", () => {
    expect(aptDpkgHooks(FRESH_DEBIAN)).toEqual([])
  })

  it("names every command, hook and dpkg option apt would add around dpkg", () => {
    const dump = FRESH_DEBIAN +
      'DPkg::Pre-Install-Pkgs:: "/usr/bin/apt-listchanges --apt || test $? -lt 10";\n' +
      'DPkg::Post-Invoke "";\nDPkg::Post-Invoke:: "rm -f /var/cache/apt/archives/*.deb || true";\n' +
      'Dpkg::Options "";\nDpkg::Options:: "--force-unsafe-io";\n' +
      'DPkg::Pre-Invoke:: "etckeeper pre-install";\n'
    expect(aptDpkgHooks(dump)).toEqual([
      'DPkg::Pre-Install-Pkgs:: "/usr/bin/apt-listchanges --apt || test $? -lt 10";',
      'DPkg::Post-Invoke:: "rm -f /var/cache/apt/archives/*.deb || true";',
      'Dpkg::Options:: "--force-unsafe-io";',
      'DPkg::Pre-Invoke:: "etckeeper pre-install";'
    ])
  })
})
