/**
 * Launch options of Debian's chromium, shared by both Playwright configurations: Playwright's
 * browser download is not used, and the flags keep it off the network it can't reach.
 */
module.exports = {
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run'
  ]
};
