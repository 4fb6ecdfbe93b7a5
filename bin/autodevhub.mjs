#!/usr/bin/env node
// The `autodevhub` command. In a checkout it runs the TypeScript source through tsx (a
// dependency); a build (`npm run build`) without the source runs the compiled client.
import { existsSync } from 'node:fs';

const source = new URL('../src/client/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import(source.href);
  await main();
} else {
  const { main } = await import(new URL('../dist/src/client/main.js', import.meta.url).href);
  await main();
}
