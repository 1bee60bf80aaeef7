#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm install` (prepare) or `npm run build`.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error(
    'crm-env is not built yet: run `npm install` (or `npm run build`) in the project folder first.',
  );
  process.exit(2);
}
await import(entry.href);
