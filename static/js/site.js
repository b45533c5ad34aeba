// Small behaviours on every page, kept out of the HTML (the CSP refuses inline scripts).
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  // A form sent back with errors: the focus goes to its error summary ([data-error-summary])
  // or its first invalid field (Django marks them aria-invalid), not to the top of the page.
  const failed = document.querySelector(
    "main [data-error-summary], main form [aria-invalid=\"true\"]"
  );
  if (failed) {
    if (!failed.matches("input, select, textarea, button")) failed.setAttribute("tabindex", "-1");
    failed.focus();
  }
})();
