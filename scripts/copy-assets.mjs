// Static files read at run time (console page, feed client) sit beside the compiled code.
import { cpSync } from 'node:fs';
for (const f of ['console.html', 'console.js', 'console.css', 'icon.svg']) cpSync(`src/bots/web/${f}`, `dist/src/bots/web/${f}`);
for (const f of ['app.js', 'app.css']) cpSync(`src/bots/web/app/${f}`, `dist/src/bots/web/app/${f}`);
cpSync('src/realtime/client', 'dist/src/realtime/client', { recursive: true });
