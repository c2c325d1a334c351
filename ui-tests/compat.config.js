/**
 * Plain Playwright configuration of the compatibility check (compat/): one spec run against
 * whichever front end the environment selects, without galata (whose in-page helpers follow
 * the newest JupyterLab).
 *
 *   MA_COMPAT_APP      `lab` (default) or `notebook` (Notebook 7, opened on /tree)
 *   MA_COMPAT_JUPYTER  the `jupyter` command of the environment under test (default: on PATH)
 *   MA_COMPAT_PORT     the server's port (default 8962: see playwright.config.js)
 */
const fs = require('fs');
const os = require('os');
const path = require('path');

const app = process.env.MA_COMPAT_APP || 'lab';
if (app !== 'lab' && app !== 'notebook') {
  throw new Error(`MA_COMPAT_APP must be lab or notebook, not ${app}`);
}
const jupyter = process.env.MA_COMPAT_JUPYTER || 'jupyter';
const port = Number(process.env.MA_COMPAT_PORT || 8962);
const token = 'modelarts-compat';

// Playwright evaluates this file again in each worker: the runner creates the state folder
// and the workers inherit its path.
if (!process.env.MA_COMPAT_TMP) {
  const tmp = fs.mkdtempSync(
    path.join(os.tmpdir(), 'jupyter-modelarts-compat-')
  );
  for (const dir of [
    'root/data',
    'state',
    'objects/bucket/datasets',
    'jupyter'
  ]) {
    fs.mkdirSync(path.join(tmp, dir), { recursive: true });
  }
  fs.writeFileSync(
    path.join(tmp, 'objects/bucket/datasets/train.csv'),
    'x,y\n'
  );
  process.env.MA_COMPAT_TMP = tmp;
  process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
}
const tmp = process.env.MA_COMPAT_TMP;

const args = [
  app,
  '--no-browser',
  '--allow-root',
  '--ServerApp.ip=127.0.0.1',
  `--ServerApp.port=${port}`,
  '--ServerApp.port_retries=0',
  `--IdentityProvider.token=${token}`,
  `--ServerApp.root_dir=${path.join(tmp, 'root')}`,
  `--ModelArtsApp.state_dir=${path.join(tmp, 'state')}`,
  // Not /data: the local backend links mounts under this folder instead.
  `--LocalBackend.data_root=${path.join(tmp, 'root/data')}`,
  `--LocalBackend.object_store_root=${path.join(tmp, 'objects')}`,
  '--LocalBackend.auto_stop_enabled=True',
  '--LocalBackend.auto_stop_duration=7200'
];
if (app === 'lab') {
  args.push('--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate');
}

module.exports = {
  testDir: 'compat',
  timeout: 60 * 1000,
  retries: 0,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    video: 'off',
    trace: 'retain-on-failure',
    launchOptions: require('./chromium')
  },
  metadata: { app, token },
  webServer: {
    command: [jupyter, ...args].map(a => JSON.stringify(a)).join(' '),
    url: `http://127.0.0.1:${port}/api/status?token=${token}`,
    timeout: 120 * 1000,
    reuseExistingServer: false,
    // SIGTERM, so that the server shuts its kernels down itself.
    gracefulShutdown: { signal: 'SIGTERM', timeout: 10 * 1000 },
    env: {
      // Keep the user's own Jupyter configuration and state out of the check.
      JUPYTER_CONFIG_DIR: path.join(tmp, 'jupyter/config'),
      JUPYTER_DATA_DIR: path.join(tmp, 'jupyter/data'),
      JUPYTER_RUNTIME_DIR: path.join(tmp, 'jupyter/runtime')
    }
  }
};
