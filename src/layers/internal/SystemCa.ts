/** The host's CA bundle, trusted alongside the roots Node carries. */
import * as fs from "node:fs"
import * as path from "node:path"
import * as tls from "node:tls"
import * as Effect from "effect/Effect"

/** Debian/Ubuntu, RHEL/Fedora, SUSE, and the extracted ca-trust output; the first that exists is read. */
export const bundlePaths = [
  "etc/ssl/certs/ca-certificates.crt",
  "etc/pki/tls/certs/ca-bundle.crt",
  "etc/ssl/ca-bundle.pem",
  "etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"
] as const

/** The first readable bundle under `root`, or undefined when the host has none. */
export const readSystemBundle = (root: string): Effect.Effect<string | undefined> =>
  Effect.sync(() => {
    for (const candidate of bundlePaths) {
      try {
        const text = fs.readFileSync(path.join(root, candidate), "utf8")
        if (text.includes("-----BEGIN CERTIFICATE-----")) return text
      } catch {
        // Absent or unreadable: try the next one.
      }
    }
    return undefined
  })

/** The `ca` of every agent: an explicit list replaces Node's roots, so they are listed too. */
export const trustedCas = (root: string): Effect.Effect<ReadonlyArray<string>> =>
  Effect.map(readSystemBundle(root), (bundle) =>
    bundle === undefined ? tls.rootCertificates : [...tls.rootCertificates, bundle])
