/**
 * Configuration for Playwright using default from @jupyterlab/galata
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

module.exports = {
  ...baseConfig,
  // compat/ has its own configuration (compat.config.js).
  testDir: 'tests',
  // galata's default html reporter serves the report on failure and blocks.
  reporter: [['list']],
  use: {
    ...baseConfig.use,
    baseURL: 'http://127.0.0.1:8888',
    // 'retain-on-failure' needs Playwright's own ffmpeg, which is not installed.
    video: 'off',
    launchOptions: require('./chromium')
  },
  webServer: {
    command: 'jlpm start',
    url: 'http://127.0.0.1:8888/lab',
    timeout: 120 * 1000,
    reuseExistingServer: !process.env.CI
  }
};
