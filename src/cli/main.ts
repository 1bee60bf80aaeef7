/** Entry point of the built CLI (bin/crm-env.js imports this module). */
import { main } from './program.js';

// `crm-env verify | head` closes our stdout early; that is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

// The process's environment and folder enter here, once; everything below gets them passed in.
process.exitCode = await main(process.argv.slice(2), { env: process.env, cwd: process.cwd() });
