// Rebalance: "Apply plan N…" and "Undo plan N…" open the confirmation in an in-page dialog.
// Progressive enhancement only: without this file each link opens the same confirmation as a page.
document.addEventListener("DOMContentLoaded", () => {
  for (const opener of document.querySelectorAll("a[data-dialog]")) {
    const dialog = document.getElementById(opener.dataset.dialog);
    if (!dialog || typeof dialog.showModal !== "function") {
      continue;
    }
    opener.addEventListener("click", (event) => {
      event.preventDefault();
      dialog.showModal();
    });
    for (const closer of dialog.querySelectorAll("[data-close-dialog]")) {
      closer.addEventListener("click", (event) => {
        event.preventDefault();
        dialog.close();
      });
    }
    dialog.addEventListener("close", () => opener.focus());
  }
});
