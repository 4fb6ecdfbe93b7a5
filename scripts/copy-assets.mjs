// Static files read at run time (console page, feed client) sit beside the compiled code.
import { cpSync } from 'node:fs';
cpSync('src/bots/web/console.html', 'dist/src/bots/web/console.html');
cpSync('src/realtime/client', 'dist/src/realtime/client', { recursive: true });
