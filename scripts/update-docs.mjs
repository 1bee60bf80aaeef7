// Regenerates the usage blocks of docs/scripts.md from the CLI's --help (run: npm run docs).
import { readFileSync, writeFileSync } from 'node:fs';
import { renderUsageBlocks } from '../dist/cli/docs.js';

const file = new URL('../docs/scripts.md', import.meta.url);
const before = readFileSync(file, 'utf8');
const after = renderUsageBlocks(before);
writeFileSync(file, after);
console.log(
  before === after ? 'docs/scripts.md is up to date.' : 'docs/scripts.md usage blocks regenerated.',
);
