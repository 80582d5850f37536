/**
 * The messages by which dpkg and apt tell what their exit status does not: read
 * from the output of a run with `LC_ALL=C`.
 */

/** dpkg-query's exit status 1 for a package dpkg has never heard of: `no packages found matching driveclient`. */
export const dpkgQueryFoundNoPackage = (stderr: string): boolean => /no packages found matching/.test(stderr)

/** `apt-get install -d` exits 0 when no source offers the version any more, and says so. */
export const aptCannotDownload = (output: string): boolean => /cannot be downloaded/.test(output)
