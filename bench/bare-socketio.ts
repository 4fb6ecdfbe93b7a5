/**
 * Baseline for the fan-out bench: a bare Socket.IO server that joins each client to the room it
 * asks for and relays the same Redis channel to that room. No authentication, no replay.
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

const port = Number(process.env.PORT);
const channel = process.env.CHANNEL!;
const http = createServer((_req, res) => res.end('ok'));
const io = new Server(http, { cors: { origin: true } });
io.on('connection', (socket) => {
  socket.on('subscribe', (req: { project: string }, reply: (r: unknown) => void) => {
    void socket.join(`project:${req.project}`);
    reply({ ok: true, runs: [] });
  });
});
const sub = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
await sub.subscribe(channel);
sub.on('message', (_ch: string, raw: string) => {
  const e = JSON.parse(raw) as { projectKey: string };
  io.to(`project:${e.projectKey}`).emit('run-event', e);
});
http.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));
