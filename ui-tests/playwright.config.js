/**
 * Configuration for Playwright using default from @jupyterlab/galata
 *
 * The tests' servers keep off 8888 and the 50 ports a Jupyter started there moves on to when
 * it is taken (8888-8938), so the demo and the tests run side by side. Their fixed ports:
 *   8960 this configuration's server (jupyter_server_test_config.py)
 *   8961 autostop.spec.ts   8962 compat.config.js   8963 jobs.spec.ts   8964 checks.spec.ts
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const port = 8960;

module.exports = {
  ...baseConfig,
  // compat/ has its own configuration (compat.config.js).
  testDir: 'tests',
  // galata's default html reporter serves the report on failure and blocks.
  reporter: [['list']],
  use: {
    ...baseConfig.use,
    baseURL: `http://127.0.0.1:${port}`,
    // 'retain-on-failure' needs Playwright's own ffmpeg, which is not installed.
    video: 'off',
    launchOptions: require('./chromium')
  },
  webServer: {
    command: 'jlpm start',
    url: `http://127.0.0.1:${port}/lab`,
    timeout: 120 * 1000,
    // In CI the tests run against the server they start, never one found on the port.
    reuseExistingServer: !process.env.CI,
    // Stopped as a user would: the server then removes its temporary folder (the default
    // SIGKILL left ~50 MB in the temp folder per run).
    gracefulShutdown: { signal: 'SIGTERM', timeout: 10 * 1000 }
  }
};
