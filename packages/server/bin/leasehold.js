#!/usr/bin/env node
// Committed entry point, so `npm ci` can link the bin before `prepare` builds dist/.
import '../dist/cli.js';
