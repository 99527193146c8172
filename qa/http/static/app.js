// The chat posts each question to /reply and inserts the turn the server rendered from
// templates/_reply.html, the one drawing of a reply; the two turns shown without an answer from
// the server (waiting, server unreachable) are <template>s the server rendered into the page.
// The script writes no words of its own, and inserts only markup Jinja escaped. Without it the
// form still works: it is a plain GET of /?q=..., rendered on the server.
"use strict";

(function () {
  document.documentElement.classList.add("js"); // the copy buttons replace the citation links
  const form = document.getElementById("ask");
  if (form) chat(form);
  copyCitations();
  sourceView();

  function chat(form) {
    const box = document.getElementById("q");
    const send = document.getElementById("send");
    const log = document.getElementById("log");
    const starter = document.getElementById("starter");
    const pendingTurn = document.getElementById("turn-pending");
    const unreachableTurn = document.getElementById("turn-unreachable");
    const maxHistory = Number(form.dataset.history);
    let busy = false;

    document.getElementById("q-hint").hidden = false;
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      ask(box.value);
    });
    for (const link of document.querySelectorAll("a.example")) {
      link.addEventListener("click", (event) => {
        event.preventDefault();
        ask(link.textContent);
      });
    }

    async function ask(question) {
      if (busy || !question.trim()) return;
      busy = true;
      send.disabled = true;
      form.classList.add("busy");
      const body = { question, history: history() };
      const filters = chosenFilters();
      if (Object.keys(filters).length) body.filters = filters;
      if (form.elements.group_by.value) body.group_by = form.elements.group_by.value;
      const waiting = fromTemplate(pendingTurn, question);
      log.append(waiting);
      if (starter) starter.hidden = true;
      box.value = "";
      waiting.scrollIntoView({ block: "nearest" });

      const turn = (await renderedTurn(body)) || fromTemplate(unreachableTurn, question);
      waiting.replaceWith(turn);
      if (turn.querySelector(".reply.error")) box.value = question; // not answered: not lost
      busy = false;
      send.disabled = false;
      form.classList.remove("busy");
      turn.scrollIntoView({ block: "start" });
      box.focus();
    }

    // The questions answered so far (a refused one was never asked), as many as the server reads.
    function history() {
      return Array.from(log.children)
        .filter((turn) => !turn.querySelector(".reply.error"))
        .map((turn) => turn.querySelector(".q-text").textContent)
        .slice(-maxHistory);
    }

    // The form's filters that are set (an empty field is no filter, as in the no-JS form).
    function chosenFilters() {
      const filters = {};
      for (const name of ["date_from", "date_to", "source"]) {
        const value = form.elements[name].value;
        if (value) filters[name] = value;
      }
      return filters;
    }

    function fromTemplate(template, question) {
      const turn = template.content.firstElementChild.cloneNode(true);
      turn.querySelector(".q-text").textContent = question;
      return turn;
    }

    // The server's turn for this question (an answer, or an error with its reason); null when
    // no server answered with one (no connection, or something in between answered instead).
    async function renderedTurn(body) {
      try {
        const response = await fetch(form.dataset.reply, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "text/html" },
          body: JSON.stringify(body),
        });
        if (!(response.headers.get("Content-Type") || "").startsWith("text/html")) return null;
        const holder = document.createElement("template");
        holder.innerHTML = await response.text();
        const turn = holder.content.firstElementChild;
        return turn && turn.matches("li.turn") ? document.importNode(turn, true) : null;
      } catch (err) {
        return null;
      }
    }
  }

  // Each citation's copy buttons: fetch the reference from /api/cite and put it on the clipboard;
  // the button's own data-done says so (to a screen reader through the page's status line).
  // Where the clipboard cannot be written, the reference opens in a new tab instead.
  function copyCitations() {
    const status = document.getElementById("copy-status");
    document.addEventListener("click", async (event) => {
      const button = event.target.closest("button.copy");
      if (!button) return;
      try {
        const response = await fetch(button.dataset.url);
        if (!response.ok) throw new Error(String(response.status));
        await navigator.clipboard.writeText(await response.text());
        if (status) status.textContent = button.dataset.done;
        button.classList.add("done");
        setTimeout(() => button.classList.remove("done"), 2000);
      } catch (err) {
        window.open(button.dataset.url, "_blank", "noopener");
      }
    });
  }

  // The source view: `/articles/<id>#chunk-N` alone cannot tell the server which passage to
  // mark, so ask again with it in the query; a passage given by offsets only is scrolled to.
  function sourceView() {
    const text = document.querySelector("article.source .text");
    if (!text) return;
    const chunk = /^#chunk-(\d+)$/.exec(location.hash);
    if (chunk && !document.getElementById(`chunk-${chunk[1]}`) && !new URLSearchParams(location.search).has("chunk")) {
      location.replace(`${location.pathname}?chunk=${chunk[1]}${location.hash}`);
      return;
    }
    const mark = text.querySelector("mark.cited");
    if (mark && !location.hash) mark.scrollIntoView({ block: "center" });
  }
})();
