// MathJax 3 (served from _static/vendor/mathjax, no CDN). Sphinx inlines this file before loading MathJax.
window.MathJax = {
  options: { processHtmlClass: "tex2jax_process|mathjax_process|math|output_area" },
  startup: {
    ready() {
      MathJax.startup.defaultReady();
      // @jupyter-widgets/html-manager typesets Output widgets through the MathJax 2 API (MathJax.Hub.Queue).
      if (!MathJax.Hub) {
        MathJax.Hub = { Queue: () => MathJax.startup.promise.then(() => MathJax.typesetPromise()) };
      }
    },
  },
};
