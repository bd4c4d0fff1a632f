// Self-service pages: the print button of the certificate (CSP: no inline script).
document.addEventListener("click", function (e) {
  var t = e.target;
  if (t && t.closest && t.closest("[data-print]")) {
    e.preventDefault();
    window.print();
  }
});
