// Comments anchored to the résumé's text: each comment listed beside the document (an element
// with data-annotation) is found again in the document by its quote (the same way the server
// anchors it: whitespace and compatibility forms ignored, the prefix and suffix telling repeats
// apart), highlighted in place and numbered. Each number is a button, reachable by keyboard and
// announced with its comment; it leads to the comment in the list, whose "Show in the résumé"
// leads back. On the coach's page, selecting text (or, in pin mode, clicking a PDF page) fills
// the comment form. No inline script or style: positions are set through the CSSOM.

const CONTEXT = 32;
const doc = document.querySelector("[data-annotated]");
const list = document.querySelector("[data-annotation-list]");
const form = document.querySelector("[data-annotation-form]");
const live = document.querySelector("[data-annotation-live]");

function canon(nodes) {
  // The text of ``nodes`` without whitespace, NFKC, with where each character came from.
  let text = "";
  const origin = [];
  nodes.forEach((node, index) => {
    const value = node.nodeValue;
    for (let offset = 0; offset < value.length; offset += 1) {
      for (const char of value[offset].normalize("NFKC")) {
        if (!/\s/.test(char)) {
          text += char;
          origin.push([index, offset]);
        }
      }
    }
  });
  return { text, origin };
}

function plain(value) {
  return (value || "").normalize("NFKC").replace(/\s+/g, "");
}

function textNodes(root) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode(node) {
      if (node.parentElement.closest(".mark-layer")) return NodeFilter.FILTER_REJECT;
      if (root.classList.contains("pdf-pages") && !node.parentElement.closest(".textLayer")) {
        return NodeFilter.FILTER_REJECT;
      }
      return NodeFilter.FILTER_ACCEPT;
    },
  });
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  return nodes;
}

function commonSuffix(a, b) {
  let n = 0;
  while (n < a.length && n < b.length && a[a.length - 1 - n] === b[b.length - 1 - n]) n += 1;
  return n;
}

function commonPrefix(a, b) {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n += 1;
  return n;
}

function find(root, quote) {
  // A Range over the best exact place of the quote in root's text, or null.
  const exact = plain(quote.exact);
  if (!exact) return null;
  const nodes = textNodes(root);
  const { text, origin } = canon(nodes);
  const prefix = plain(quote.prefix);
  const suffix = plain(quote.suffix);
  let best = -1;
  let bestScore = -1;
  for (let at = text.indexOf(exact); at !== -1; at = text.indexOf(exact, at + 1)) {
    let score = 0;
    if (prefix) score += commonSuffix(text.slice(Math.max(0, at - prefix.length), at), prefix) / prefix.length;
    if (suffix) score += commonPrefix(text.slice(at + exact.length, at + exact.length + suffix.length), suffix) / suffix.length;
    if (score > bestScore) {
      best = at;
      bestScore = score;
    }
  }
  if (best === -1) return null;
  const [startNode, startOffset] = origin[best];
  const [endNode, endOffset] = origin[best + exact.length - 1];
  const range = document.createRange();
  range.setStart(nodes[startNode], startOffset);
  range.setEnd(nodes[endNode], endOffset + 1);
  return range;
}

function layerOf(box) {
  let layer = box.querySelector(":scope > .mark-layer");
  if (!layer) {
    layer = document.createElement("div");
    layer.className = "mark-layer";
    box.append(layer);
  }
  return layer;
}

function place(element, box, left, top, width, height) {
  // Fractions of a PDF page box (percentages, so they follow the page's size); pixels in the
  // DOCX view (redrawn when the window changes size).
  const pdf = box.classList.contains("pdf-page");
  const unit = pdf ? "%" : "px";
  const scale = (value) => (pdf ? value * 100 : value);
  element.style.left = `${scale(left)}${unit}`;
  element.style.top = `${scale(top)}${unit}`;
  if (width !== undefined) {
    element.style.width = `${scale(width)}${unit}`;
    element.style.height = `${scale(height)}${unit}`;
  }
}

function boxes() {
  return doc.querySelectorAll(".pdf-page").length
    ? [...doc.querySelectorAll(".pdf-page")]
    : [...doc.querySelectorAll(".docx-view")];
}

function relative(rect, box) {
  const outer = box.getBoundingClientRect();
  if (box.classList.contains("pdf-page")) {
    return [
      (rect.left - outer.left) / outer.width,
      (rect.top - outer.top) / outer.height,
      rect.width / outer.width,
      rect.height / outer.height,
    ];
  }
  return [
    rect.left - outer.left + box.scrollLeft,
    rect.top - outer.top + box.scrollTop,
    rect.width,
    rect.height,
  ];
}

function boxAt(rect) {
  const x = rect.left + rect.width / 2;
  const y = rect.top + rect.height / 2;
  return boxes().find((box) => {
    const r = box.getBoundingClientRect();
    return x >= r.left && x <= r.right && y >= r.top && y <= r.bottom;
  });
}

function announce(text) {
  if (live) live.textContent = text;
}

function describe(item) {
  const number = item.dataset.number;
  const how = item.dataset.match === "approximate" ? " (found approximately)" : "";
  const quote = item.dataset.exact ? `on “${item.dataset.exact}”` : `pinned on page ${item.dataset.page}`;
  return `Comment ${number}${how}, ${quote}: ${item.dataset.body}`;
}

function badge(item, box, left, top) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "mark-badge";
  if (item.dataset.match === "approximate") button.classList.add("mark-approximate");
  if (item.dataset.status === "draft") button.classList.add("mark-draft");
  button.textContent = item.dataset.number;
  button.dataset.badgeFor = item.id;
  button.setAttribute("aria-label", describe(item));
  button.addEventListener("click", () => {
    item.scrollIntoView({ block: "nearest" });
    item.focus();
    announce(describe(item));
  });
  button.addEventListener("focus", () => item.classList.add("is-current"));
  button.addEventListener("blur", () => item.classList.remove("is-current"));
  place(button, box, left, top);
  layerOf(box).append(button);
  return button;
}

function mark(item) {
  // One comment drawn: its highlight rectangles and its numbered button; false if not found.
  const kind = item.dataset.kind;
  if (kind === "note") return false;
  if (kind === "pin") {
    const box = doc.querySelector(`.pdf-page[data-page="${item.dataset.page}"]`);
    if (!box) return false;
    badge(item, box, Number(item.dataset.x), Number(item.dataset.y)).classList.add("mark-pin");
    return true;
  }
  const root = doc.querySelector(".pdf-pages") || doc.querySelector(".docx-view");
  if (!root) return false;
  const range = find(root, {
    exact: item.dataset.exact,
    prefix: item.dataset.prefix,
    suffix: item.dataset.suffix,
  });
  let first = null;
  if (range) {
    for (const rect of range.getClientRects()) {
      if (rect.width < 1 || rect.height < 1) continue;
      const box = boxAt(rect);
      if (!box) continue;
      const [left, top, width, height] = relative(rect, box);
      const span = document.createElement("span");
      span.className = "mark-rect";
      if (item.dataset.match === "approximate") span.classList.add("mark-approximate");
      place(span, box, left, top, width, height);
      layerOf(box).append(span);
      first = first || [box, left, top];
    }
  } else if (item.dataset.rects && item.dataset.page) {
    // Not in the text layer (a PDF whose text reads differently): where it was selected.
    const box = doc.querySelector(`.pdf-page[data-page="${item.dataset.page}"]`);
    for (const [left, top, width, height] of box ? JSON.parse(item.dataset.rects) : []) {
      const span = document.createElement("span");
      span.className = "mark-rect";
      place(span, box, left, top, width, height);
      layerOf(box).append(span);
      first = first || [box, left, top];
    }
  }
  if (!first) return false;
  const [box, left, top] = first;
  badge(item, box, left, top);
  return true;
}

function drawAll() {
  for (const layer of doc.querySelectorAll(".mark-layer")) layer.remove();
  if (!list) return;
  let shown = 0;
  const items = [...list.querySelectorAll("[data-annotation]")];
  for (const item of items) {
    const found = mark(item);
    item.dataset.placed = found ? "yes" : "no";
    const show = item.querySelector("[data-show-mark]");
    if (show) show.hidden = !found;
    const note = item.querySelector("[data-not-placed]");
    if (note) note.hidden = found;
    if (found) shown += 1;
  }
  doc.dataset.marks = String(shown);
}

function wireList() {
  if (!list) return;
  list.addEventListener("click", (event) => {
    const show = event.target.closest("[data-show-mark]");
    if (!show) return;
    const item = show.closest("[data-annotation]");
    const target = doc.querySelector(`[data-badge-for="${item.id}"]`);
    if (target) {
      target.scrollIntoView({ block: "center" });
      target.focus();
    }
  });
}

// --- the coach: selecting text, pinning a point -------------------------------------------------

function field(name) {
  return form.querySelector(`[name="${name}"]`);
}

function setField(name, value) {
  const input = field(name);
  if (input) input.value = value;
}

function pinMode() {
  const checked = form.querySelector('[name="kind"]:checked');
  return checked && checked.value === "pin";
}

function contextOf(range, root) {
  const before = document.createRange();
  before.setStart(root, 0);
  before.setEnd(range.startContainer, range.startOffset);
  const after = document.createRange();
  after.setStart(range.endContainer, range.endOffset);
  after.setEndAfter(root.lastChild || root);
  return [before.toString().slice(-CONTEXT), after.toString().slice(0, CONTEXT)];
}

function captureSelection() {
  const selection = window.getSelection();
  if (!selection || selection.isCollapsed || !selection.rangeCount) return;
  const range = selection.getRangeAt(0);
  const root = doc.querySelector(".pdf-pages") || doc.querySelector(".docx-view");
  if (!root || !root.contains(range.commonAncestorContainer)) return;
  const exact = selection.toString().replace(/\s+/g, " ").trim();
  if (!exact) return;
  const start = range.startContainer.parentElement || range.startContainer;
  const pageBox = start.closest ? start.closest(".pdf-page") : null;
  const scope = pageBox ? pageBox.querySelector(".textLayer") : root;
  const [prefix, suffix] = contextOf(range, scope);
  const rects = [];
  if (pageBox) {
    for (const rect of range.getClientRects()) {
      if (rect.width < 1 || rect.height < 1 || boxAt(rect) !== pageBox) continue;
      rects.push(relative(rect, pageBox).map((v) => Math.min(1, Math.max(0, Number(v.toFixed(4))))));
    }
  }
  const textKind = form.querySelector('[name="kind"][value="text"]');
  if (textKind) textKind.checked = true;
  setField("quote", exact);
  setField("prefix", prefix);
  setField("suffix", suffix);
  setField("rects", JSON.stringify(rects.slice(0, 100)));
  setField("page", pageBox ? pageBox.dataset.page : "");
  const jump = document.querySelector("[data-comment-selection]");
  if (jump) jump.hidden = false;
  announce(`Selected “${exact.slice(0, 80)}”. Write your comment in the form beside the résumé.`);
}

function pinAt(event) {
  if (!pinMode()) return;
  const box = event.target.closest(".pdf-page");
  if (!box || event.target.closest(".mark-badge")) return;
  const r = box.getBoundingClientRect();
  const x = Math.min(1, Math.max(0, (event.clientX - r.left) / r.width));
  const y = Math.min(1, Math.max(0, (event.clientY - r.top) / r.height));
  setField("page", box.dataset.page);
  setField("x_percent", String(Math.round(x * 100)));
  setField("y_percent", String(Math.round(y * 100)));
  for (const old of doc.querySelectorAll(".mark-new-pin")) old.remove();
  const dot = document.createElement("span");
  dot.className = "mark-badge mark-pin mark-new-pin";
  dot.textContent = "+";
  dot.setAttribute("aria-hidden", "true");
  place(dot, box, x, y);
  layerOf(box).append(dot);
  announce(`Pin placed on page ${box.dataset.page}. Write your comment in the form.`);
}

function wireForm() {
  if (!form) return;
  document.addEventListener("mouseup", () => setTimeout(captureSelection, 0));
  document.addEventListener("keyup", (event) => {
    if (event.shiftKey || event.key === "Shift") captureSelection();
  });
  doc.addEventListener("click", pinAt);
  const jump = document.querySelector("[data-comment-selection]");
  if (jump) {
    jump.addEventListener("click", () => {
      jump.hidden = true;
      field("body").scrollIntoView({ block: "center" });
      field("body").focus();
    });
  }
  form.addEventListener("change", (event) => {
    if (event.target.name === "kind") doc.classList.toggle("pin-mode", pinMode());
  });
  doc.classList.toggle("pin-mode", pinMode());
}

if (doc) {
  wireList();
  wireForm();
  const pdf = doc.querySelector("[data-pdf-url]");
  if (pdf) {
    if (pdf.dataset.state === "shown") drawAll();
    doc.addEventListener("pdf:shown", drawAll);
  } else {
    drawAll();
  }
  let timer = null;
  window.addEventListener("resize", () => {
    clearTimeout(timer);
    timer = setTimeout(drawAll, 200);
  });
  const target = window.location.hash && document.querySelector(window.location.hash);
  if (target && target.matches("[data-annotation]")) target.focus();
}
