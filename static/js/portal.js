// Small behaviours every page may use, wired by data attributes instead of inline handlers, so
// the Content-Security-Policy can forbid inline script. Delegated from the document, so content
// htmx swaps in later behaves the same.
(function () {
  // <select data-autosubmit>: submit the form when the choice changes.
  document.addEventListener("change", function (event) {
    var field = event.target.closest ? event.target.closest("[data-autosubmit]") : null;
    if (field && field.form) { field.form.submit(); }
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest) { return; }
    // <input type="checkbox" data-select-all="ids">: check or clear every box named "ids".
    var master = event.target.closest("input[data-select-all]");
    if (master) {
      document.querySelectorAll("input[name='" + master.dataset.selectAll + "']").forEach(function (box) {
        box.checked = master.checked;
      });
      return;
    }
    // <a data-inert>: a sample link (the brand preview) that goes nowhere.
    if (event.target.closest("a[data-inert]")) { event.preventDefault(); }
  });
  // <form data-confirm="question">: ask before submitting (a destructive action).
  document.addEventListener("submit", function (event) {
    var form = event.target.closest ? event.target.closest("form[data-confirm]") : null;
    if (form && !window.confirm(form.dataset.confirm)) { event.preventDefault(); }
  });
})();
