// Merged into @jupyter/builder's configuration (package.json jupyterlab.webpackConfig).
// Minify the stylesheets before css-loader: they ship inside a JS chunk as written, comments
// and indentation included.
module.exports = {
  module: {
    rules: [
      {
        test: /(?<!\.raw)\.css$/,
        enforce: 'pre',
        loader: 'builtin:lightningcss-loader',
        options: { minify: true }
      }
    ]
  }
};
