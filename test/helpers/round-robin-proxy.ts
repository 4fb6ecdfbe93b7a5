import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A small load balancer in front of several web processes, as a Kubernetes Service or an ingress
 * controller without affinity is: each HTTP request, and each WebSocket upgrade, goes to the next
 * backend in turn. A backend that refuses the connection (stopped, restarting) is skipped, as
 * an endpoint that failed its readiness probe is; a request whose backend dies mid-way gets 502.
 * WebSockets are piped byte for byte after the upgrade, and cut when their backend goes away.
 */
export interface RoundRobinProxy {
  url: string;
  /** Which backend each request and upgrade went to, by port. */
  served: Map<number, number>;
  close(): Promise<void>;
}

export async function startRoundRobinProxy(backendPorts: number[]): Promise<RoundRobinProxy> {
  let next = 0;
  const served = new Map<number, number>();
  const sockets = new Set<Socket>();
  const pick = () => backendPorts[next++ % backendPorts.length]!;

  /** Tries the backends in turn from the next one; resolves with a connected socket, or undefined when none answers. */
  function connectNext(): Promise<{ port: number; socket: Socket } | undefined> {
    const tries = backendPorts.length;
    const attempt = (left: number): Promise<{ port: number; socket: Socket } | undefined> => {
      if (left === 0) return Promise.resolve(undefined);
      const port = pick();
      return new Promise((resolve) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => resolve({ port, socket }));
        socket.once('error', () => resolve(attempt(left - 1)));
      });
    };
    return attempt(tries);
  }

  const server: Server = createServer(async (req, res) => {
    const body: Buffer[] = [];
    for await (const chunk of req) body.push(chunk as Buffer);
    const target = await connectNext();
    if (!target) {
      res.writeHead(502, { 'content-type': 'text/plain' }).end('no backend answers');
      return;
    }
    served.set(target.port, (served.get(target.port) ?? 0) + 1);
    const upstream = request(
      { createConnection: () => target.socket, host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers: { ...req.headers, connection: 'close' } },
      (answer: IncomingMessage) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.once('error', () => res.destroy());
      },
    );
    upstream.once('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('the backend went away');
      else res.destroy();
    });
    upstream.end(Buffer.concat(body));
  });

  server.on('upgrade', async (req: IncomingMessage, client: Socket, head: Buffer) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    const target = await connectNext();
    if (!target) {
      client.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\n\r\n');
      return;
    }
    served.set(target.port, (served.get(target.port) ?? 0) + 1);
    const upstream = target.socket;
    sockets.add(upstream);
    upstream.once('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => upstream.destroy());
    client.once('close', () => upstream.destroy());
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    async close() {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
