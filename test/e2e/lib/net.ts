/** Loopback helpers. */
import * as net from "node:net"

/** A 127.0.0.1 port that nothing listens on (bound, then released). */
export const unusedPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
