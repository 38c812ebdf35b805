#!/usr/bin/env node
/**
 * Prints a dev token for the worker, and nothing else on stdout:
 *
 *   npm run -s token -- --agent alice --room lobby      # an agent token
 *   npm run -s token -- --agent alice --room lab --groups research,leads   # ...that may join those groups
 *   npm run -s token -- --admin [--room lobby]          # an admin token (every room unless --room)
 *   TOKEN=$(npm run -s token -- --agent alice --room lobby)
 *
 * Options: --groups <a,b|*> (the groups claim: the groups the agent may join
 * or leave itself; without it only an admin sets its groups), --ttl <seconds>
 * (default 86400). The secret is BUS_SECRET from the environment, else from
 * .dev.vars (the local dev secret).
 */
import { parseArgs } from 'node:util';
import { sign } from 'hono/jwt';
import { devVar } from './dev-vars.mjs';

const usage = 'usage: npm run -s token -- --agent <id> --room <room> [--groups <a,b|*>] | --admin [--room <room>]   [--ttl <seconds>]';
/** Group names as the bus takes them (1-128 letters, digits and "._:-"), or "*" for any. */
const GROUP = /^(\*|[A-Za-z0-9._:-]{1,128})$/;

let values;
try {
  ({ values } = parseArgs({
    options: {
      agent: { type: 'string' },
      room: { type: 'string' },
      admin: { type: 'boolean', default: false },
      groups: { type: 'string' },
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
let groups;
if (values.groups !== undefined) {
  groups = values.groups.split(',').map((g) => g.trim());
  if (values.admin || !groups.every((g) => GROUP.test(g))) {
    console.error(`--groups takes group names (letters, digits and "._:-") or "*", comma-separated, for an agent token\n${usage}`);
    process.exit(2);
  }
}
let claims;
if (values.admin) {
  claims = { sub: values.agent ?? 'admin', room: values.room ?? '*', role: 'admin' };
} else if (values.agent && values.room) {
  claims = { sub: values.agent, room: values.room, role: 'agent', ...(groups ? { groups } : {}) };
} else {
  console.error(usage);
  process.exit(2);
}
const exp = Math.floor(Date.now() / 1000) + ttl;
process.stdout.write(`${await sign({ ...claims, exp }, secret, 'HS256')}\n`);
