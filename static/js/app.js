// Progressive enhancement only: every page works without this file.

// --- the site menu on narrow screens (a disclosure button; CSS hides the links while closed) ---
// The script is deferred: the page is parsed, so this runs before DOMContentLoaded and the links
// fold away as early as they can.
(() => {
  const toggle = document.querySelector("[data-menu-toggle]");
  const nav = toggle && document.getElementById(toggle.getAttribute("aria-controls"));
  if (!toggle || !nav) return;
  const setOpen = (open) => toggle.setAttribute("aria-expanded", open ? "true" : "false");
  toggle.hidden = false;
  toggle.addEventListener("click", () => setOpen(toggle.getAttribute("aria-expanded") !== "true"));
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || toggle.getAttribute("aria-expanded") !== "true") return;
    if (!nav.contains(document.activeElement) && document.activeElement !== toggle) return;
    setOpen(false);
    toggle.focus();
  });
  // A click outside the open menu closes it (as a tap beside a phone's menu would).
  document.addEventListener("click", (event) => {
    if (toggle.getAttribute("aria-expanded") === "true" && !toggle.contains(event.target)
        && !nav.contains(event.target) && getComputedStyle(toggle).display !== "none") {
      setOpen(false);
    }
  });
})();

// --- the time zone picker: a select made a searchable combobox (WAI-ARIA combobox pattern) ---
const normalise = (text) => text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
  .replace(/[_/,()]/g, " ").replace(/\u2212/g, "-");

function zonePicker(select) {
  const label = document.querySelector(`label[for="${select.id}"]`);
  const zones = [...select.options].map((option) => {
    const city = option.value.split("/").pop().replace(/_/g, " ");
    return {
      option,
      place: option.dataset.place || "",
      city: normalise(city),
      haystack: normalise(`${option.textContent} ${option.dataset.place || ""} ${option.dataset.search || ""}`),
    };
  });
  const combo = document.createElement("div");
  combo.className = "zone-combo";
  const input = document.createElement("input");
  input.type = "text";
  input.id = `${select.id}-search`;
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", `${select.id}-options`);
  input.autocomplete = "off";
  input.spellcheck = false;
  input.placeholder = "Type a city or country";
  for (const name of ["aria-describedby", "aria-invalid"]) {
    if (select.hasAttribute(name)) input.setAttribute(name, select.getAttribute(name));
  }
  const list = document.createElement("ul");
  list.id = `${select.id}-options`;
  list.className = "zone-list";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "Matching zones");
  list.hidden = true;
  const status = document.createElement("p");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  combo.append(input, list, status);
  select.after(combo);
  select.hidden = true;
  select.tabIndex = -1;
  if (label) label.htmlFor = input.id;

  let shown = [];
  let active = -1;
  const selectedText = () => select.selectedOptions[0]?.textContent ?? "";
  input.value = selectedText();

  const setActive = (index) => {
    const items = list.querySelectorAll("[role=option]");
    items[active]?.setAttribute("aria-selected", "false");
    active = index;
    const item = items[active];
    if (item) {
      item.setAttribute("aria-selected", "true");
      input.setAttribute("aria-activedescendant", item.id);
      item.scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  };
  const close = () => {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  };
  const choose = (zone) => {
    select.value = zone.option.value;
    select.dispatchEvent(new Event("change", { bubbles: true }));
    input.value = zone.option.textContent;
    close();
  };
  const open = (query) => {
    const words = normalise(query).split(/\s+/).filter(Boolean);
    const matches = zones.filter((zone) => words.every((word) => zone.haystack.includes(word)));
    // Cities that start with what was typed first, then countries that do ("india" finds
    // Asia/Kolkata before Indian/Maldives), then the rest, each in the list's order.
    const phrase = words.join(" ");
    const tier = (zone) => {
      if (zone.city.startsWith(phrase)) return 0;
      return normalise(zone.place).startsWith(phrase) ? 1 : 2;
    };
    shown = phrase ? [0, 1, 2].flatMap((t) => matches.filter((zone) => tier(zone) === t)) : matches;
    list.replaceChildren(...shown.map((zone, i) => {
      const item = document.createElement("li");
      item.id = `${list.id}-${i}`;
      item.className = "zone-option";
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", "false");
      item.textContent = zone.option.textContent;
      if (zone.place) {
        const place = document.createElement("span");
        place.className = "zone-place";
        place.textContent = zone.place;
        item.append(place);
      }
      item.addEventListener("mousedown", (event) => event.preventDefault()); // keep the focus
      item.addEventListener("click", () => choose(zone));
      return item;
    }));
    if (!shown.length) {
      const empty = document.createElement("li");
      empty.className = "zone-empty";
      empty.textContent = "No time zone matches. Try a city or a country, e.g. Berlin or India.";
      list.append(empty);
    }
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    active = -1;
    status.textContent = shown.length
      ? `${shown.length} time zone${shown.length === 1 ? "" : "s"} found.`
      : "No time zone matches.";
    if (phrase && shown.length) setActive(0);
    else {
      const current = shown.findIndex((zone) => zone.option.value === select.value);
      if (current >= 0) setActive(current);
    }
  };
  const query = () => (input.value === selectedText() ? "" : input.value);

  input.addEventListener("input", () => open(input.value));
  input.addEventListener("focus", () => input.select());
  input.addEventListener("click", () => { if (list.hidden) open(query()); });
  input.addEventListener("blur", () => { close(); input.value = selectedText(); });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (list.hidden) { open(query()); return; }
      if (!shown.length) return;
      const step = event.key === "ArrowDown" ? 1 : -1;
      setActive(active < 0 ? 0 : (active + step + shown.length) % shown.length);
    } else if (event.key === "Enter") {
      if (!list.hidden && shown[active]) {
        event.preventDefault(); // pick the zone, do not send the form
        choose(shown[active]);
      } else if (!list.hidden) {
        event.preventDefault();
      }
    } else if (event.key === "Escape") {
      if (!list.hidden) {
        event.preventDefault();
        close();
      }
      input.value = selectedText();
      input.select();
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  // Sign-up and the coach's invitation: default the time zone to the browser's, when the person
  // has not picked one yet.
  for (const select of document.querySelectorAll("select[data-browser-default='true']")) {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone) continue;
    // The browser may name it the old way ("Asia/Calcutta"): each option lists its old names.
    const options = [...select.options];
    const match = options.find((option) => option.value === zone)
      || options.find((option) => (option.dataset.search || "").split(" ").includes(zone.toLowerCase()));
    if (match) select.value = match.value;
  }
  // ...and the clock the browser's own locale uses (12- or 24-hour), unless one was sent already.
  for (const field of document.querySelectorAll("input[data-browser-clock]")) {
    if (field.value) continue;
    const cycle = new Intl.DateTimeFormat(undefined, { hour: "numeric" }).resolvedOptions().hourCycle;
    if (cycle) field.value = cycle === "h11" || cycle === "h12" ? "12h" : "24h";
  }
  for (const select of document.querySelectorAll("select[data-zone-picker]")) zonePicker(select);
});
