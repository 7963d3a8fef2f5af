// Shows a résumé PDF in the page with pdf.js (vendored in static/vendor/pdfjs), page by page on
// canvases, each with its text layer over it (so text can be selected, and comments anchored to
// it: static/js/annotate.js). Scripting and eval stay off: the file is the learner's, so it is
// treated as hostile. When every page is drawn, the root gets a "pdf:shown" event.
import * as pdfjs from "../vendor/pdfjs/pdf.min.mjs";

const MAX_PAGES = 10;

async function show(root) {
  const status = root.querySelector(".pdf-status");
  const pages = root.querySelector(".pdf-pages");
  pdfjs.GlobalWorkerOptions.workerSrc = root.dataset.pdfWorker;
  const task = pdfjs.getDocument({
    url: root.dataset.pdfUrl,
    standardFontDataUrl: root.dataset.pdfFonts,
    isEvalSupported: false,
    enableXfa: false,
  });
  const doc = await task.promise;
  const count = Math.min(doc.numPages, MAX_PAGES);
  const ratio = window.devicePixelRatio || 1;
  for (let number = 1; number <= count; number += 1) {
    const page = await doc.getPage(number);
    const box = document.createElement("div");
    box.className = "pdf-page";
    box.dataset.page = String(number);
    pages.append(box);
    const width = box.clientWidth || 720;
    const scale = width / page.getViewport({ scale: 1 }).width;
    const viewport = page.getViewport({ scale: scale * ratio });
    const canvas = document.createElement("canvas");
    canvas.width = Math.floor(viewport.width);
    canvas.height = Math.floor(viewport.height);
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `Page ${number} of ${doc.numPages}`);
    const layer = document.createElement("div");
    layer.className = "textLayer";
    box.style.setProperty("--scale-factor", String(scale));
    box.append(canvas, layer);
    await page.render({ canvasContext: canvas.getContext("2d"), viewport }).promise;
    const text = new pdfjs.TextLayer({
      textContentSource: page.streamTextContent(),
      container: layer,
      viewport: page.getViewport({ scale }),
    });
    await text.render();
  }
  const more = doc.numPages > count ? ` (the first ${count} shown; download for the rest)` : "";
  status.textContent = `${doc.numPages} ${doc.numPages === 1 ? "page" : "pages"}${more}`;
  root.dataset.state = "shown";
  root.dispatchEvent(new CustomEvent("pdf:shown", { bubbles: true }));
}

for (const root of document.querySelectorAll("[data-pdf-url]")) {
  show(root).catch(() => {
    root.dataset.state = "failed";
    root.querySelector(".pdf-status").textContent =
      "This PDF cannot be shown in the page. Download the original, or read the extracted text.";
    root.dispatchEvent(new CustomEvent("pdf:failed", { bubbles: true }));
  });
}
