/**
 * The installed agent's control data as `dpkg-query -s` prints it, turned back
 * into a `DEBIAN/control` and `DEBIAN/conffiles` for rebuilding its package (as
 * dpkg-repack does).
 */

/** Fields that describe the installation, not the package. */
const INSTALLATION_FIELDS = new Set(["status", "config-version", "conffiles"])

export interface InstalledControl {
  readonly control: string
  readonly version: string
  readonly architecture: string
  /** The package's conffiles (those dpkg marks obsolete left out). */
  readonly conffiles: ReadonlyArray<string>
}

/** The stanzas of a deb822 file, each as its lines (continuation lines kept with their field). */
const stanzas = (text: string): ReadonlyArray<ReadonlyArray<string>> =>
  text.replace(/\r\n/g, "\n").split(/\n\s*\n/).map((block) => block.split("\n").filter((line) => line !== ""))
    .filter((lines) => lines.length > 0)

const fieldName = (line: string): string | undefined => /^([A-Za-z0-9][A-Za-z0-9-]*):/.exec(line)?.[1]?.toLowerCase()

/**
 * The control file of `pkg` from its status stanza, when dpkg says it is installed and
 * configured; none otherwise (a package left half-way has no trustworthy files to rebuild from).
 */
export const installedControl = (statusText: string, pkg: string): InstalledControl | undefined => {
  for (const lines of stanzas(statusText)) {
    const fields = new Map<string, string>()
    const kept: Array<string> = []
    const conffiles: Array<string> = []
    let current: string | undefined
    for (const line of lines) {
      const name = fieldName(line)
      if (name !== undefined) {
        current = name
        fields.set(name, line.slice(line.indexOf(":") + 1).trim())
      } else if (current === "conffiles") {
        // ` /etc/x 0123abcd [obsolete|remove-on-upgrade]`
        const [file, , flag] = line.trim().split(/\s+/)
        if (file?.startsWith("/") && flag === undefined) conffiles.push(file)
      }
      if (current === undefined || !INSTALLATION_FIELDS.has(current)) kept.push(line)
    }
    if (fields.get("package") !== pkg) continue
    const version = fields.get("version")
    const architecture = fields.get("architecture")
    if (!/^\S+ ok installed$/.test(fields.get("status") ?? "") || version === undefined || architecture === undefined) return undefined
    return { control: `${kept.join("\n")}\n`, version, architecture, conffiles }
  }
  return undefined
}
