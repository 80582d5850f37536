import { describe, expect, it } from "vitest"
import { installedControl } from "../../src/domain/DpkgStatus.js"
import { isFileOf, keptFilesToDrop, versionOfFile } from "../../src/domain/PackageFiles.js"

describe("versionOfFile", () => {
  it.each([
    ["deb", "driveclient_1.1.0-1_amd64.deb", "1.1.0-1"],
    ["deb", "driveclient_2%3a1.1.0-1_amd64.deb", "2:1.1.0-1"],
    ["deb", "driveclient_1.1.0-1_all.deb", "1.1.0-1"],
    ["deb", "driveclient-dbg_1.1.0-1_amd64.deb", undefined],
    ["deb", "driveclient_1.1.0-1_amd64.deb.partial", undefined],
    ["rpm", "driveclient-1.1.0-1.el9.x86_64.rpm", "1.1.0-1.el9"],
    ["rpm", "driveclient-1.1.0-1.aarch64.rpm", "1.1.0-1"],
    ["rpm", "driveclient-devel-1.1.0-1.el9.x86_64.rpm", undefined],
    ["rpm", "driveclient_1.1.0-1_amd64.deb", undefined]
  ] as const)("%s %s → %s", (format, name, version) => {
    expect(versionOfFile(format, name)).toBe(version)
  })

  it("an rpm epoch is not in the file name", () => {
    expect(isFileOf("rpm", "driveclient-1.1.0-1.el9.x86_64.rpm", "1:1.1.0-1.el9")).toBe(true)
    expect(isFileOf("deb", "driveclient_1.1.0-1_amd64.deb", "1:1.1.0-1")).toBe(false)
  })
})

describe("keptFilesToDrop", () => {
  it("drops every agent package but those of the kept versions, and leaves other files alone", () => {
    const names = [
      "driveclient_1.0.0-1_amd64.deb",
      "driveclient_1.1.0-1_amd64.deb",
      "driveclient_1.2.0-1_amd64.deb",
      "notes.txt"
    ]
    expect(keptFilesToDrop("deb", names, ["1.2.0-1", "1.1.0-1"])).toEqual(["driveclient_1.0.0-1_amd64.deb"])
  })
})

describe("installedControl", () => {
  const status = [
    "Package: other",
    "Status: install ok installed",
    "Version: 1",
    "Architecture: all",
    "",
    "Package: driveclient",
    "Status: install ok installed",
    "Priority: optional",
    "Architecture: amd64",
    "Version: 1.1.0-1",
    "Conffiles:",
    " /etc/driveclient/driveclient.conf 0123456789abcdef0123456789abcdef",
    "Description: Cloud Backup agent",
    " It backs up.",
    ""
  ].join("\n")

  it("is the control data without the installation's own fields", () => {
    expect(installedControl(status, "driveclient")).toEqual({
      control: [
        "Package: driveclient",
        "Priority: optional",
        "Architecture: amd64",
        "Version: 1.1.0-1",
        "Description: Cloud Backup agent",
        " It backs up.",
        ""
      ].join("\n"),
      version: "1.1.0-1",
      architecture: "amd64",
      conffiles: ["/etc/driveclient/driveclient.conf"]
    })
  })

  it("conffiles dpkg marks obsolete are not the package's any more", () => {
    const withObsolete = status.replace(
      " /etc/driveclient/driveclient.conf 0123456789abcdef0123456789abcdef",
      " /etc/driveclient/driveclient.conf 0123456789abcdef0123456789abcdef\n /etc/driveclient/old.conf 0123456789abcdef0123456789abcdef obsolete"
    )
    expect(installedControl(withObsolete, "driveclient")?.conffiles).toEqual(["/etc/driveclient/driveclient.conf"])
  })

  it.each(["install ok half-configured", "install reinstreq half-installed", "deinstall ok config-files"])(
    "a package dpkg holds as %s cannot be rebuilt",
    (state) => {
      expect(installedControl(status.replace(/(Package: driveclient\nStatus: ).*/, `$1${state}`), "driveclient")).toBeUndefined()
    }
  )

  it("a held package can be rebuilt", () => {
    expect(installedControl(status.replace(/(Package: driveclient\nStatus: ).*/, "$1hold ok installed"), "driveclient")?.version)
      .toBe("1.1.0-1")
  })

  it("no such package", () => {
    expect(installedControl(status, "missing")).toBeUndefined()
  })
})
