// Progressive enhancement only: every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // Sign-up: default the time zone to the browser's, when the user has not picked one yet.
  for (const select of document.querySelectorAll("select[data-browser-default='true']")) {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && [...select.options].some((option) => option.value === zone)) {
      select.value = zone;
    }
  }
});
