#!/usr/bin/env node
// The `leasekv` command. Runs the TypeScript sources through tsx so that `npx leasekv` works
// right after `npm ci` with no build step to remember.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
