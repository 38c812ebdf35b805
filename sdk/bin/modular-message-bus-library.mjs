#!/usr/bin/env node
// The package's command: `npx modular-message-bus-library mcp --help`. A committed, executable file (not a
// build output) so that npm links it at install time whether or not dist/ exists yet; it loads the built code.
const [command, ...rest] = process.argv.slice(2);
const usage =
  'usage: modular-message-bus-library mcp [--url <worker> --room <room> --token <jwt> | --redis <url> --room <room> --agent <id>] (--help for more)';

if (command !== 'mcp') {
  process.stderr.write(`${command === undefined ? 'no command given' : `unknown command "${command}"`}\n${usage}\n`);
  process.exit(2);
}
let cli;
try {
  cli = await import('../dist/mcp/cli.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
  process.stderr.write('modular-message-bus-library: dist/ is missing; in a checkout of the repository run `npm run build` first\n');
  process.exit(1);
}
process.exit(await cli.runMcpCommand(rest));
