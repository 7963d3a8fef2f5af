// The coach's review form, enhanced (the page works without this file: the server keeps a draft
// on every submit and asks for confirmation on a step page of its own).
// - What is typed is saved as a draft on the server as the coach types (debounced PUT, CSRF in
//   X-CSRFToken), so it survives a reload and a sign-out.
// - Leaving with changes not yet saved warns (beforeunload, only while something is unsaved).
// - Sending opens a dialog with the review as the learner will see it; "Send now" sends it.
(() => {
  "use strict";

  const SAVE_AFTER_MS = 800;

  function values(form) {
    const scores = {};
    for (const fieldset of form.querySelectorAll(".score-field:not(.outcome-field)")) {
      const checked = fieldset.querySelector("input[type='radio']:checked");
      if (checked) scores[checked.name] = checked.value;
    }
    const outcome = form.querySelector("input[name='outcome']:checked");
    return {
      scores,
      summary: form.elements.summary ? form.elements.summary.value : "",
      comments: form.elements.comments ? form.elements.comments.value : "",
      outcome: outcome ? outcome.value : null,
    };
  }

  function complete(form) {
    const groups = form.querySelectorAll(".score-field");
    const answered = [...groups].every((g) => g.querySelector("input[type='radio']:checked"));
    return answered && form.elements.summary.value.trim() !== "";
  }

  function fillPreview(form, dialog) {
    const data = values(form);
    const outcome = form.querySelector("input[name='outcome']:checked");
    dialog.querySelector("[data-preview='outcome']").textContent = outcome
      ? outcome.closest("label").textContent.trim()
      : "";
    const scores = dialog.querySelector("[data-preview='scores']");
    scores.replaceChildren();
    for (const fieldset of form.querySelectorAll(".score-field:not(.outcome-field)")) {
      const checked = fieldset.querySelector("input[type='radio']:checked");
      const row = document.createElement("div");
      const label = document.createElement("dt");
      label.textContent = fieldset.querySelector("legend").textContent.replace(/\s*\(1–5\)$/, "");
      const value = document.createElement("dd");
      value.textContent = `${checked ? checked.value : "–"}/5`;
      row.append(label, value);
      scores.append(row);
    }
    dialog.querySelector("[data-preview='summary']").textContent = data.summary.trim();
    const comments = dialog.querySelector("[data-preview='comments']");
    comments.replaceChildren();
    for (const line of data.comments.trim().split("\n")) {
      if (!line.trim()) continue;
      const paragraph = document.createElement("p");
      paragraph.textContent = line;
      comments.append(paragraph);
    }
  }

  function enhance(form) {
    const url = form.dataset.draftUrl;
    const status = form.querySelector("[data-draft-status]");
    const dialog = form.querySelector("[data-review-dialog]");
    const token = form.querySelector("input[name='csrf_token']");
    let changes = 0; // edits since the page loaded
    let savedChanges = 0; // edits the server has
    let timer = null;
    let leaving = false;

    const unsaved = () => changes !== savedChanges;
    const say = (text) => {
      if (status) status.textContent = text;
    };

    async function save({ keepalive = false } = {}) {
      clearTimeout(timer);
      timer = null;
      if (!url || !unsaved()) return;
      const upTo = changes;
      try {
        const response = await fetch(url, {
          method: "PUT",
          credentials: "same-origin",
          keepalive,
          headers: {
            "Content-Type": "application/json",
            Accept: "application/json",
            "X-CSRFToken": token ? token.value : "",
          },
          body: JSON.stringify(values(form)),
        });
        const answer = await response.json().catch(() => ({}));
        if (!response.ok) {
          say(`Not saved: ${answer.detail || "the server refused the draft"}.`);
          return;
        }
        savedChanges = Math.max(savedChanges, upTo);
        say(unsaved() ? "Saving…" : answer.message || "Draft saved.");
      } catch (error) {
        say("Not saved: the connection failed. Your text is still here; it is saved when the connection is back.");
      }
    }

    function changed() {
      changes += 1;
      if (!url) return;
      say("Unsaved changes…");
      clearTimeout(timer);
      timer = setTimeout(save, SAVE_AFTER_MS);
    }

    form.addEventListener("input", changed);
    form.addEventListener("change", (event) => {
      if (event.target.type === "radio") changed();
    });

    window.addEventListener("beforeunload", (event) => {
      if (leaving || !unsaved()) return;
      event.preventDefault();
      event.returnValue = "";
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden" && unsaved()) save({ keepalive: true });
    });

    form.addEventListener("submit", (event) => {
      const confirming = event.submitter && event.submitter.name === "confirmed";
      if (confirming || !dialog || typeof dialog.showModal !== "function" || !complete(form)) {
        // Sent as it is: the server keeps it as the draft and answers with what is missing, or
        // (when it was not confirmed here) with its own confirm step.
        leaving = true;
        return;
      }
      event.preventDefault();
      fillPreview(form, dialog);
      dialog.showModal();
    });
    const cancel = dialog && dialog.querySelector("[data-dialog-cancel]");
    if (cancel) cancel.addEventListener("click", () => dialog.close());
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const form of document.querySelectorAll("form[data-review-form]")) enhance(form);
  });
})();
