// The staff queue: the coach list is in the page once (<datalist id="coach-list">); each row's
// "Coach…" dropdown is filled from it here. Without this file each row offers a field that
// suggests the same coaches from that list, so assigning works either way.
document.addEventListener("DOMContentLoaded", () => {
  "use strict";
  const list = document.getElementById("coach-list");
  if (!list) return;
  for (const select of document.querySelectorAll("select[data-coach-choice]")) {
    for (const option of list.options) {
      select.append(new Option(option.textContent, option.value));
    }
    select.disabled = false;
  }
});
