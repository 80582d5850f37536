import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as HostDetection from "../../src/main/HostDetection.js"
import { AgentService } from "../../src/services/AgentService.js"
import { PackageManager } from "../../src/services/PackageManager.js"
import { Shell } from "../../src/services/Shell.js"
import * as FakeShell from "../support/FakeShell.js"
import { remoteRepository } from "../support/RemoteRepository.js"
import { makeHostDirectory, tempRoot, writeHostFile, writeHostProgram } from "../support/TempRoot.js"
import { PACKAGE_CLEANUP_DUPES } from "../support/ExpectedCommands.js"

const SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

const OS_RELEASE = {
  debian12: `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
`,
  ubuntu2204: `PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=jammy
`,
  rhel9: `NAME="Red Hat Enterprise Linux"
VERSION="9.4 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"
`,
  centos7: `NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
`,
  fedora40: `NAME="Fedora Linux"
VERSION="40 (Server Edition)"
ID=fedora
VERSION_ID=40
PRETTY_NAME="Fedora Linux 40 (Server Edition)"
`,
  amazon2: `NAME="Amazon Linux"
VERSION="2"
ID="amzn"
ID_LIKE="centos rhel fedora"
VERSION_ID="2"
`,
  mint21: `NAME="Linux Mint"
ID=linuxmint
ID_LIKE="ubuntu debian"
`,
  opensuse: `NAME="openSUSE Leap"
ID="opensuse-leap"
ID_LIKE="suse opensuse"
`,
  arch: `NAME="Arch Linux"
ID=arch
`
}

const hostWith = (files: { readonly osRelease?: string; readonly programs?: ReadonlyArray<string>; readonly systemd?: boolean }) =>
  Effect.gen(function*() {
    const root = yield* tempRoot
    if (files.osRelease !== undefined) yield* writeHostFile(root, "/etc/os-release", files.osRelease)
    for (const program of files.programs ?? []) yield* writeHostProgram(root, program)
    if (files.systemd === true) yield* makeHostDirectory(root, "/run/systemd/system")
    return root
  })

const detectOn = (files: Parameters<typeof hostWith>[0], overrides: Partial<HostDetection.DetectOptions> = {}) =>
  Effect.flatMap(hostWith(files), (root) => HostDetection.detect({ root, searchPath: SEARCH_PATH, ...overrides }))

describe("HostDetection.detect", () => {
  it.scoped("Debian 12 with systemd: apt + systemd", () =>
    Effect.gen(function*() {
      expect(yield* detectOn({ osRelease: OS_RELEASE.debian12, programs: ["/usr/bin/apt-get"], systemd: true }))
        .toEqual({ packageManager: "apt", serviceManager: "systemd" })
    }))

  it.scoped("Ubuntu 22.04, and Linux Mint through ID_LIKE: apt", () =>
    Effect.gen(function*() {
      expect((yield* detectOn({ osRelease: OS_RELEASE.ubuntu2204 })).packageManager).toBe("apt")
      expect((yield* detectOn({ osRelease: OS_RELEASE.mint21 })).packageManager).toBe("apt")
    }))

  it.scoped("RHEL 9 with dnf (and yum, its alias): dnf", () =>
    Effect.gen(function*() {
      expect(yield* detectOn({ osRelease: OS_RELEASE.rhel9, programs: ["/usr/bin/dnf", "/usr/bin/yum"], systemd: true }))
        .toEqual({ packageManager: "dnf", serviceManager: "systemd" })
    }))

  it.scoped("CentOS 7 with only yum: yum", () =>
    Effect.gen(function*() {
      expect((yield* detectOn({ osRelease: OS_RELEASE.centos7, programs: ["/usr/bin/yum"] })).packageManager).toBe("yum")
    }))

  it.scoped("Fedora with dnf: dnf; Amazon Linux 2 with yum: yum", () =>
    Effect.gen(function*() {
      expect((yield* detectOn({ osRelease: OS_RELEASE.fedora40, programs: ["/usr/bin/dnf"] })).packageManager).toBe("dnf")
      expect((yield* detectOn({ osRelease: OS_RELEASE.amazon2, programs: ["/usr/bin/yum"] })).packageManager).toBe("yum")
    }))

  it.scoped("a Red Hat family host with neither dnf nor yum: an error naming --package-manager", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(detectOn({ osRelease: OS_RELEASE.rhel9 }))
      expect(error._tag).toBe("HostDetectionError")
      expect(error.message).toContain("neither dnf nor yum")
      expect(error.message).toContain("--package-manager apt|dnf|yum")
    }))

  it.scoped("an unknown distribution with nothing on PATH: an error saying what was looked at", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(detectOn({ osRelease: OS_RELEASE.arch }))
      expect(error.message).toContain("/etc/os-release")
      expect(error.message).toContain("arch")
      expect(error.message).toContain("apt-get, dnf, yum, zypper")
      expect(error.message).toMatch(/use --package-manager apt\|dnf\|yum\|zypper$/)
    }))

  it.scoped("openSUSE and SLES are zypper hosts, never dnf ones by their ID_LIKE, even with apt-get on PATH", () =>
    Effect.gen(function*() {
      expect((yield* detectOn({ osRelease: OS_RELEASE.opensuse, programs: ["/usr/bin/zypper"] })).packageManager).toBe("zypper")
      const sles = "NAME=\"SLES\"\nVERSION_ID=\"15.5\"\nID=\"sles\"\nID_LIKE=\"suse\"\n"
      expect((yield* detectOn({ osRelease: sles, programs: ["/usr/bin/zypper", "/usr/bin/apt-get"] })).packageManager)
        .toBe("zypper")
    }))

  it.scoped("an unknown distribution or no os-release: the programs present decide", () =>
    Effect.gen(function*() {
      expect((yield* detectOn({ osRelease: OS_RELEASE.arch, programs: ["/usr/bin/apt-get"] })).packageManager).toBe("apt")
      expect((yield* detectOn({ programs: ["/usr/bin/dnf"] })).packageManager).toBe("dnf")
      expect((yield* detectOn({ programs: ["/usr/bin/yum"] })).packageManager).toBe("yum")
      const error = yield* Effect.flip(detectOn({}))
      expect(error.message).toContain("no /etc/os-release or /usr/lib/os-release")
    }))

  it.scoped("/usr/lib/os-release is read when /etc/os-release is missing", () =>
    Effect.gen(function*() {
      const root = yield* hostWith({})
      yield* writeHostFile(root, "/usr/lib/os-release", OS_RELEASE.debian12)
      expect((yield* HostDetection.detect({ root, searchPath: SEARCH_PATH })).packageManager).toBe("apt")
    }))

  it.scoped("systemd only when /run/systemd/system is a directory", () =>
    Effect.gen(function*() {
      expect((yield* detectOn({ osRelease: OS_RELEASE.debian12 })).serviceManager).toBe("sysv")
      const root = yield* hostWith({ osRelease: OS_RELEASE.debian12 })
      yield* writeHostFile(root, "/run/systemd/system", "")
      expect((yield* HostDetection.detect({ root, searchPath: SEARCH_PATH })).serviceManager).toBe("sysv")
    }))

  it.scoped("overrides win without any check, plain or as Options", () =>
    Effect.gen(function*() {
      expect(yield* detectOn({}, { packageManager: "yum", serviceManager: "systemd" }))
        .toEqual({ packageManager: "yum", serviceManager: "systemd" })
      expect(
        yield* detectOn({ osRelease: OS_RELEASE.debian12, systemd: true }, {
          packageManager: Option.some("dnf"),
          serviceManager: Option.some("sysv")
        })
      ).toEqual({ packageManager: "dnf", serviceManager: "sysv" })
      expect(
        yield* detectOn({ osRelease: OS_RELEASE.debian12 }, { packageManager: Option.none(), serviceManager: Option.none() })
      ).toEqual({ packageManager: "apt", serviceManager: "sysv" })
    }))

  it("parseOsRelease removes quotes and escapes", () => {
    const fields = HostDetection.parseOsRelease(`ID="rhel"\nNAME='Red Hat'\nX="a \\"b\\""\n# comment\nID_LIKE=fedora\n`)
    expect(fields.get("ID")).toBe("rhel")
    expect(fields.get("NAME")).toBe("Red Hat")
    expect(fields.get("X")).toBe("a \"b\"")
    expect(fields.get("ID_LIKE")).toBe("fedora")
  })
})

describe("HostDetection.liveLayers", () => {
  it.scoped.each([
    ["apt", "systemd"],
    ["dnf", "sysv"],
    ["yum", "systemd"]
  ] as const)("%s + %s", ([packageManager, serviceManager]) =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      const kinds = yield* Effect.all([PackageManager, AgentService]).pipe(
        Effect.map(([packages, agent]) => [packages.kind, agent.kind]),
        Effect.provide(
          HostDetection.liveLayers({ packageManager, serviceManager }, root, SEARCH_PATH).pipe(
            Layer.provide(Layer.merge(FakeShell.layer(), remoteRepository({})))
          )
        )
      )
      expect(kinds).toEqual([packageManager, serviceManager])
    }))

  it.scoped("the search path reaches the yum layer, which looks for its repair tools on it", () =>
    Effect.gen(function*() {
      const root = yield* tempRoot
      yield* writeHostProgram(root, "/usr/bin/package-cleanup")
      const fake = yield* FakeShell.make({ installed: "1.1.0-1.el7", duplicate: "1.2.0-1.el7" })
      const repaired = yield* Effect.flatMap(PackageManager, (packages) => packages.repair).pipe(
        Effect.provide(
          HostDetection.liveLayers({ packageManager: "yum", serviceManager: "sysv" }, root, SEARCH_PATH).pipe(
            Layer.provide(Layer.merge(Layer.succeed(Shell, fake.shell), remoteRepository({})))
          )
        )
      )
      expect(repaired).toEqual(Option.some(PACKAGE_CLEANUP_DUPES.join(" ")))
    }))
})
