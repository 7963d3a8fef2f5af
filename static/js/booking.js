// Booking pages: progressive enhancement only; every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // The coach filter on the slot page shows its results as soon as a coach is picked.
  for (const select of document.querySelectorAll("select[data-autosubmit='true']")) {
    select.addEventListener("change", () => select.form.requestSubmit());
  }

  // A link that has a page of its own without JavaScript opens the same question in a dialog.
  for (const opener of document.querySelectorAll("a[data-opens-dialog]")) {
    const dialog = document.getElementById(opener.dataset.opensDialog);
    if (!dialog || typeof dialog.showModal !== "function") {
      continue; // no <dialog> support: the link leads to the page
    }
    opener.addEventListener("click", (event) => {
      event.preventDefault();
      dialog.showModal();
    });
    dialog.addEventListener("close", () => opener.focus());
    // A click on the backdrop (outside the dialog's box) closes it, as Escape does.
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) {
        const box = dialog.getBoundingClientRect();
        const inside =
          event.clientX >= box.left && event.clientX <= box.right &&
          event.clientY >= box.top && event.clientY <= box.bottom;
        if (!inside) {
          dialog.close();
        }
      }
    });
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
