#!/usr/bin/env node
// A committed, executable entry point: `npm ci` links it before the build exists, and tsc's output is not +x.
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv.slice(2));
