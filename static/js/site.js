// Behaviour shared by every page. No inline scripts or handlers anywhere: the Content
// Security Policy allows scripts from our own origin only.
(function () {
  // A <select data-autosubmit> submits its form when changed (the language switch).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
})();
