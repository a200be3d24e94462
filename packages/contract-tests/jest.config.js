const preset = require('../../jest.preset.js');

// In the integration tier two suites run at once: each server a suite starts has a test network
// of its own (tag, address, port, static and user-id pools; see src/helpers/test-network.ts), so
// suites side by side never share a link, chain, cgroup, address or port.
module.exports = process.env.ARBOR_TEST_TIER === 'integration' ? { ...preset, maxWorkers: 2 } : preset;
