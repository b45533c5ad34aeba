// Small behaviours on every page, kept out of the HTML (the CSP refuses inline scripts).
(function () {
  "use strict";
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
