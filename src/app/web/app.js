// Keys as in the terminal review: each key clicks the element that names it in `data-key`
// (a button posts its form, a link opens its view); `:` focuses the question box.
"use strict";
(function () {
  const help = document.getElementById("help");
  document.getElementById("help-open").addEventListener("click", () => help.showModal());
  document.addEventListener("keydown", (e) => {
    const t = e.target;
    const typing = t instanceof HTMLTextAreaElement || t instanceof HTMLInputElement || t instanceof HTMLSelectElement;
    if (e.key === "Escape" && typing) {
      t.blur();
      const cancel = document.querySelector("form.edit a, form.feedback a");
      if (cancel) cancel.click();
      return;
    }
    if (typing || e.ctrlKey || e.metaKey || e.altKey || help.open) return;
    // `b` goes back a question, as in the terminal review.
    const key = e.key === "b" ? "k" : e.key;
    const target = document.querySelector('[data-key="' + CSS.escape(key) + '"]');
    if (!target) return;
    e.preventDefault();
    if (target instanceof HTMLInputElement) target.focus();
    else if (e.key === "?") help.showModal();
    else target.click();
  });
  // The editor's live preview, rendered and sanitised by aigcq itself.
  const editor = document.getElementById("editor");
  const preview = document.getElementById("preview");
  if (editor && preview) {
    let timer = null;
    const update = () =>
      fetch("/preview", { method: "POST", body: editor.value, headers: { "Content-Type": "text/plain" } })
        .then((r) => r.text())
        .then((html) => { preview.innerHTML = html; });
    editor.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(update, 200); });
    update();
    editor.focus();
  }
  // Feedback: the revision is asked for in the background while the page shows the model's
  // progress (time waited, tokens streamed in), then the new candidate beside the others.
  const note = document.getElementById("note");
  const feedback = document.querySelector("form.feedback");
  if (note && feedback) {
    note.focus();
    const status = document.getElementById("writing");
    const live = document.getElementById("live");
    feedback.addEventListener("submit", (e) => {
      e.preventDefault();
      feedback.querySelector("button").disabled = true;
      const poll = setInterval(() =>
        fetch("/progress").then((r) => r.json()).then((w) => {
          if (!w.active) return;
          status.textContent = "the model is writing: " + w.tokens + " tokens, " + w.seconds + " s" +
            (w.retrying ? " (" + w.retrying + ")" : "");
          // As text only: the reply is untrusted until aigcq has cleaned and sanitised it.
          live.textContent = w.text;
        }), 300);
      fetch("/op", { method: "POST", body: new URLSearchParams(new FormData(feedback)) })
        .then((r) => { clearInterval(poll); location.href = r.url; })
        .catch(() => { clearInterval(poll); location.reload(); });
    });
  }
})();
