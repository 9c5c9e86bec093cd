#!/usr/bin/env node
// `npm start` will start a three-region cluster on loopback (file storage under ./.meridian/) and serve
// the example app and the dashboard (DESIGN §7). None of that exists yet, so say so and fail rather than
// pretend to start something.
console.error(
  [
    'meridian: `npm start` is not available yet.',
    'The three-region cluster, the example app and the dashboard arrive with the next issue.',
    'What exists today is the core library: run `npm test` (type-check, unit, property and',
    'simulation tests) or `npm run build`.',
  ].join('\n'),
)
process.exit(1)
