/**
 * The messages by which dpkg and apt tell what their exit status does not: read
 * from the output of a run with `LC_ALL=C`.
 */

/** dpkg-query's exit status 1 for a package dpkg has never heard of: `no packages found matching driveclient`. */
export const dpkgQueryFoundNoPackage = (stderr: string): boolean => /no packages found matching/.test(stderr)

/** `apt-get install -d` exits 0 when no source offers the version any more, and says so. */
export const aptCannotDownload = (output: string): boolean => /cannot be downloaded/.test(output)

/**
 * What apt says when a source's signature cannot be checked with the keys it has: gpgv's status
 * words (apt 2: `NO_PUBKEY`, `EXPKEYSIG`, `KEYEXPIRED`, `REVKEYSIG`, `BADSIG`), sqv's (apt 3:
 * "Missing key …", "OpenPGP signature verification failed"), and the closing
 * `E: The repository '… InRelease' is not signed.` (or "no longer signed").
 */
const KEY_ERROR =
  /NO_PUBKEY|EXPKEYSIG|KEYEXPIRED|REVKEYSIG|BADSIG|signatures couldn't be verified|signatures were invalid|is not signed|is no longer signed|signature verification failed|Missing key/

/**
 * The last line of `apt-get update` output that rejects the signature of the source at `uri`
 * (apt names it without its trailing slash), if one does.
 */
export const aptKeyErrorLine = (output: string, uri: string): string | undefined => {
  const source = uri.replace(/\/+$/, "")
  return output.split("\n").map((line) => line.trim()).filter((line) =>
    KEY_ERROR.test(line) && (line.includes(`${source} `) || line.includes(`${source}/ `))
  ).at(-1)
}
