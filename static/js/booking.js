// Booking pages: progressive enhancement only; every page works without this file.

// --- the booker on a phone: a month to pick a day from, and that day's times --------------------
// Without this file each day (and month) is a link to the page showing it. With it, the page's
// changing parts ([data-booker-part], by id) are swapped in place from that page, the address
// follows (so Back, a reload or a shared link show the same), and the focus goes to what was
// asked for: the day's times, or the month.
const bookerPage = (url) => {
  const address = new URL(url, window.location.href);
  return address.pathname + address.search;
};
let bookerShown = bookerPage(window.location.href);

async function showBooker(url, push) {
  let page;
  try {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    page = new DOMParser().parseFromString(await response.text(), "text/html");
  } catch {
    window.location.assign(url); // the browser shows it, or what went wrong
    return;
  }
  for (const part of document.querySelectorAll("[data-booker-part]")) {
    const fresh = part.id && page.getElementById(part.id);
    if (fresh) part.replaceWith(document.adoptNode(fresh));
  }
  bookerShown = bookerPage(url);
  if (push) window.history.pushState({ booker: true }, "", url);
  const hash = new URL(url, window.location.href).hash;
  const heading = document.getElementById(hash === "#month" ? "month-heading" : "times-heading");
  heading?.focus();
}

document.addEventListener("click", (event) => {
  const link = event.target.closest?.("[data-booker] a[data-booker-link]");
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return; // a new tab
  if (!window.fetch || !window.DOMParser) return;
  event.preventDefault();
  showBooker(link.href, true);
});

window.addEventListener("popstate", () => {
  // Back or Forward to another day or month; a jump within the page (the skip link) is not one.
  if (document.querySelector("[data-booker]") && bookerPage(window.location.href) !== bookerShown) {
    showBooker(window.location.href, false);
  }
});

// In the month, the arrow keys move between the days with free times (Left and Right to the one
// before or after, Up and Down a week, Home and End to the first and last); Tab still visits each.
document.addEventListener("keydown", (event) => {
  const link = event.target.closest?.("[data-month-grid] a[data-day]");
  if (!link || event.altKey || event.ctrlKey || event.metaKey) return;
  const days = [...link.closest("[data-month-grid]").querySelectorAll("a[data-day]")];
  const at = days.indexOf(link);
  const weekAway = (step) => {
    const day = new Date(`${link.dataset.day}T12:00:00Z`);
    day.setUTCDate(day.getUTCDate() + step);
    return day.toISOString().slice(0, 10);
  };
  const moves = {
    ArrowRight: () => days[at + 1],
    ArrowLeft: () => days[at - 1],
    ArrowDown: () => days.find((d) => d.dataset.day >= weekAway(7)),
    ArrowUp: () => days.findLast((d) => d.dataset.day <= weekAway(-7)),
    Home: () => days[0],
    End: () => days[days.length - 1],
  };
  const next = moves[event.key]?.();
  if (!next) return;
  event.preventDefault();
  next.focus();
});

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

// --- intake questions on the confirm page ---------------------------------------------------------
// A conditional question shows only while the earlier choice it depends on has its value (the
// server ignores its answer otherwise). The answers are kept in this tab's sessionStorage, per
// interview type, so going back to pick another time and returning keeps them.
for (const form of document.querySelectorAll("form[data-intake-form]")) {
  const key = `intake:${form.dataset.intakeForm}`;
  const fields = () => form.querySelectorAll("[name^='answer-']");
  const chosen = (questionId) =>
    [...form.querySelectorAll(`[name='answer-${questionId}']`)]
      .filter((input) => input.checked)
      .map((input) => input.value);
  const applyConditions = () => {
    for (const block of form.querySelectorAll("[data-condition-question]")) {
      const shown = chosen(block.dataset.conditionQuestion).includes(block.dataset.conditionValue);
      block.hidden = !shown;
    }
  };
  const save = () => {
    const values = {};
    for (const input of fields()) {
      if (input.type === "radio" || input.type === "checkbox") {
        values[input.name] = values[input.name] || [];
        if (input.checked) values[input.name].push(input.value);
      } else {
        values[input.name] = input.value;
      }
    }
    try { window.sessionStorage.setItem(key, JSON.stringify(values)); } catch { /* private mode */ }
  };
  const restore = () => {
    let values;
    try { values = JSON.parse(window.sessionStorage.getItem(key) || "null"); } catch { values = null; }
    if (!values) return;
    // Only into an untouched form: what the server sent back after a refusal wins.
    const filled = [...fields()].some((i) => (i.type === "radio" || i.type === "checkbox") ? i.checked : i.value);
    if (filled) return;
    for (const input of fields()) {
      const value = values[input.name];
      if (value === undefined) continue;
      if (input.type === "radio" || input.type === "checkbox") input.checked = value.includes(input.value);
      else input.value = value;
    }
  };
  restore();
  applyConditions();
  form.addEventListener("input", () => { applyConditions(); save(); });
  form.addEventListener("change", () => { applyConditions(); save(); });
  form.addEventListener("submit", save);
}
