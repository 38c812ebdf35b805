#!/usr/bin/env node
/**
 * Prints a dev token for the worker, and nothing else on stdout:
 *
 *   npm run -s token -- --agent alice --room lobby      # an agent token
 *   npm run -s token -- --admin [--room lobby]          # an admin token (every room unless --room)
 *   TOKEN=$(npm run -s token -- --agent alice --room lobby)
 *
 * Options: --ttl <seconds> (default 86400). The secret is BUS_SECRET from the
 * environment, else from .dev.vars (the local dev secret).
 */
import { parseArgs } from 'node:util';
import { sign } from 'hono/jwt';
import { devVar } from './dev-vars.mjs';

const usage = 'usage: npm run -s token -- --agent <id> --room <room> | --admin [--room <room>] [--ttl <seconds>]';

let values;
try {
  ({ values } = parseArgs({
    options: {
      agent: { type: 'string' },
      room: { type: 'string' },
      admin: { type: 'boolean', default: false },
      ttl: { type: 'string', default: '86400' },
    },
  }));
} catch (error) {
  console.error(`${error.message}\n${usage}`);
  process.exit(2);
}

const secret = process.env.BUS_SECRET ?? devVar('BUS_SECRET');
if (!secret) {
  console.error('no BUS_SECRET: set it in the environment or in .dev.vars (BUS_SECRET=...)');
  process.exit(1);
}
const ttl = Number(values.ttl);
if (!Number.isInteger(ttl) || ttl < 1) {
  console.error(`--ttl must be a positive number of seconds\n${usage}`);
  process.exit(2);
}
let claims;
if (values.admin) {
  claims = { sub: values.agent ?? 'admin', room: values.room ?? '*', role: 'admin' };
} else if (values.agent && values.room) {
  claims = { sub: values.agent, room: values.room, role: 'agent' };
} else {
  console.error(usage);
  process.exit(2);
}
const exp = Math.floor(Date.now() / 1000) + ttl;
process.stdout.write(`${await sign({ ...claims, exp }, secret, 'HS256')}\n`);
