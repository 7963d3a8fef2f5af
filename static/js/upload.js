// Résumé upload with a real progress bar: XMLHttpRequest's upload progress events, sent to the
// same CSRF-protected page endpoint as the plain form (which works without this file).
(() => {
  "use strict";

  function setStatus(form, text, isError) {
    const status = form.querySelector("[data-upload-status]");
    if (status) {
      status.textContent = text;
      status.classList.toggle("error", Boolean(isError));
    }
  }

  function clearErrors(form) {
    for (const node of form.querySelectorAll(".js-error")) node.remove();
    for (const input of form.querySelectorAll("[aria-invalid='true']")) {
      input.removeAttribute("aria-invalid");
    }
  }

  function showErrors(form, errors) {
    let first = null;
    for (const [name, messages] of Object.entries(errors || {})) {
      const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
      if (!input || input.type === "hidden") continue;
      const message = document.createElement("p");
      message.className = "error js-error";
      message.id = `${input.id}-js-error`;
      message.textContent = messages.join(" ");
      input.insertAdjacentElement("afterend", message);
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", message.id);
      first = first || input;
    }
    if (first) first.focus();
  }

  function upload(form, event) {
    const input = form.querySelector("input[type='file']");
    const file = input && input.files && input.files[0];
    const maxBytes = Number(form.dataset.maxBytes || 0);
    clearErrors(form);
    if (file && maxBytes && file.size > maxBytes) {
      event.preventDefault();
      showErrors(form, { [input.name]: [`The file is larger than ${form.dataset.maxMb} MB. Shrink it and try again.`] });
      setStatus(form, "Not uploaded.", true);
      return;
    }
    if (!window.XMLHttpRequest || !window.FormData) return; // the plain form posts as usual
    event.preventDefault();
    const wrap = form.querySelector("[data-upload-progress]");
    const bar = form.querySelector("progress");
    const percent = form.querySelector("[data-upload-percent]");
    const button = form.querySelector("button[type='submit']");
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    request.setRequestHeader("Accept", "application/json");
    request.responseType = "json";
    request.upload.addEventListener("progress", (progress) => {
      if (!progress.lengthComputable) return;
      const value = Math.round((progress.loaded / progress.total) * 100);
      bar.value = value;
      bar.textContent = `${value}%`;
      percent.textContent = `${value}%`;
    });
    request.upload.addEventListener("load", () => setStatus(form, "Uploaded; checking the file…"));
    request.addEventListener("load", () => {
      button.disabled = false;
      const body = request.response || {};
      if (request.status === 201 && body.location) {
        bar.value = 100;
        percent.textContent = "100%";
        setStatus(form, "Done. Opening your résumé…");
        window.location.assign(body.location);
        return;
      }
      if (request.status === 413) {
        showErrors(form, { [input.name]: [`The file is larger than ${form.dataset.maxMb} MB.`] });
      } else {
        showErrors(form, body.errors || {});
      }
      setStatus(form, body.detail || "The upload did not go through. Check the fields above.", true);
    });
    request.addEventListener("error", () => {
      button.disabled = false;
      setStatus(form, "The connection failed during the upload. Try again.", true);
    });
    wrap.hidden = false;
    bar.value = 0;
    percent.textContent = "0%";
    button.disabled = true;
    document.body.dataset.uploading = "true";
    setStatus(form, "Uploading…");
    request.send(new FormData(form));
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const form of document.querySelectorAll("form[data-upload='true']")) {
      form.addEventListener("submit", (event) => upload(form, event));
    }
    // While the automated checks run, refresh now and then (at most a minute) to show them.
    if (document.querySelector("[data-checks-pending='true']")) {
      const key = `checks-refresh:${location.pathname}`;
      const count = Number(sessionStorage.getItem(key) || 0);
      if (count < 30) {
        sessionStorage.setItem(key, String(count + 1));
        setTimeout(() => {
          if (document.body.dataset.uploading !== "true") location.reload();
        }, 2000);
      }
    } else {
      sessionStorage.removeItem(`checks-refresh:${location.pathname}`);
    }
  });
})();
