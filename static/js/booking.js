// Booking pages: progressive enhancement only; every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // The coach filter on the slot page shows its results as soon as a coach is picked.
  for (const select of document.querySelectorAll("select[data-autosubmit='true']")) {
    select.addEventListener("change", () => select.form.requestSubmit());
  }

  // Destructive buttons ask once before they act.
  for (const button of document.querySelectorAll("button[data-confirm]")) {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) {
        event.preventDefault();
      }
    });
  }

  // The private calendar address: select it on focus, copy it with one click.
  for (const input of document.querySelectorAll("input[data-select-on-focus='true']")) {
    input.addEventListener("focus", () => input.select());
  }
  for (const button of document.querySelectorAll("button[data-copy-target]")) {
    const target = document.getElementById(button.dataset.copyTarget);
    if (!target || !navigator.clipboard) {
      continue;
    }
    button.hidden = false;
    button.addEventListener("click", async () => {
      await navigator.clipboard.writeText(target.value);
      button.textContent = "Copied";
    });
  }
});
