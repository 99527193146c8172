// The chat asks /api/ask and appends each reply without a reload, building the same markup as
// templates/_reply.html. Every string from the server goes in as text (textContent), never as
// HTML, so article text cannot inject markup. Without this script the form still works: it is a
// plain GET of /?q=..., rendered on the server.
"use strict";

(function () {
  const form = document.getElementById("ask");
  if (form) chat(form);
  sourceView();

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function webUrl(url) {
    return url && /^https?:\/\//i.test(url) ? url : null;
  }

  function chat(form) {
    const box = document.getElementById("q");
    const send = document.getElementById("send");
    const log = document.getElementById("log");
    const starter = document.getElementById("starter");
    const leads = JSON.parse(document.getElementById("error-leads").textContent);
    const api = form.dataset.api;
    const articles = form.dataset.articles;
    const home = form.getAttribute("action");
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
      const history = Array.from(log.querySelectorAll(".q-text"), (p) => p.textContent);
      const filters = chosenFilters();
      const turn = el("li", "turn");
      const question_ = el("div", "question");
      question_.append(el("p", "who", "You asked"), el("p", "q-text", question));
      const waiting = el("div", "reply pending");
      waiting.append(el("p", "who", "Searching the articles…"));
      turn.append(question_, waiting);
      log.append(turn);
      if (starter) starter.hidden = true;
      box.value = "";
      waiting.scrollIntoView({ block: "nearest" });

      let reply;
      try {
        const response = await fetch(api, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify(Object.keys(filters).length ? { question, history, filters } : { question, history }),
        });
        const body = await response.json().catch(() => null);
        if (response.ok && body) {
          reply = answerReply(body, filters);
        } else {
          const error = body && body.error ? body.error
            : { code: "default", message: `The server answered with status ${response.status}.` };
          reply = errorReply(error);
          if (error.code === "bad_request") box.value = question;
        }
      } catch (err) {
        reply = errorReply({ code: "unreachable", message: "" });
        box.value = question;
      }
      waiting.replaceWith(reply);
      busy = false;
      send.disabled = false;
      form.classList.remove("busy");
      turn.scrollIntoView({ block: "start" });
      box.focus();
    }

    function errorReply(error) {
      const reply = el("div", "reply error");
      const text = el("p");
      text.append(el("strong", "", leads[error.code] || leads.default), " " + (error.message || ""));
      reply.append(el("p", "who", "Not answered"), text);
      return reply;
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

    // Worded as web.describe_filters words it for the server-rendered reply.
    function filteredLine(filters) {
      const parts = filters.source ? [filters.source] : [];
      if (filters.date_from && filters.date_to) parts.push(`from ${filters.date_from} to ${filters.date_to}`);
      else if (filters.date_from) parts.push(`from ${filters.date_from}`);
      else if (filters.date_to) parts.push(`until ${filters.date_to}`);
      return parts.length ? [el("p", "filtered", `Filtered: ${parts.join(", ")}`)] : [];
    }

    function answerReply(result, filters) {
      if (result.abstained) {
        const reply = el("div", "reply abstain");
        const text = el("p");
        text.append(el("strong", "", "The articles do not answer this."),
          " No passage matched the question closely enough to quote; try other words, or ask about what the articles cover.");
        reply.append(el("p", "who", "From the articles"), ...filteredLine(filters), text);
        return reply;
      }
      const reply = el("div", "reply answer");
      const quote = el("blockquote", "quote");
      quote.append(el("p", "", result.answer.text));
      reply.append(el("p", "who", "From the articles"), ...filteredLine(filters), quote, citation(result.answer.citation));

      const details = el("details", "passages");
      details.open = true;
      details.append(el("summary", "", `Supporting passages (${result.passages.length})`));
      const list = el("ol");
      for (const passage of result.passages) {
        const item = el("li", "passage");
        item.append(passageText(passage), citation(passage.citation),
          el("p", "score", `relevance ${passage.score.toFixed(2)}`));
        list.append(item);
      }
      details.append(list);
      const share = el("p", "share");
      const link = el("a", "", "Link to this answer");
      link.href = `${home}?${new URLSearchParams({ q: result.question, ...filters })}`;
      share.append(link);
      reply.append(details, share);
      return reply;
    }

    // The passage with its highlights marked by their offsets (never by searching the string).
    function passageText(passage) {
      const text = el("p", "p-text");
      const spans = passage.highlights.map((h) => [h.start, h.end]).sort((a, b) => a[0] - b[0]);
      let pos = 0;
      for (const [start, end] of spans) {
        if (start < pos || end > passage.text.length || start >= end) continue;
        text.append(passage.text.slice(pos, start), el("mark", "", passage.text.slice(start, end)));
        pos = end;
      }
      text.append(passage.text.slice(pos));
      return text;
    }

    function citation(c) {
      const cite = el("p", "cite");
      const link = el("a", "cite-link", c.title || c.path);
      const path = c.doc_id.split("/").map(encodeURIComponent).join("/");
      link.href = `${articles}${path}?chunk=${c.chunk_id}&start=${c.start}&end=${c.end}#chunk-${c.chunk_id}`;
      cite.append(link, " ", el("span", "meta", `${c.source || "outlet not stated"} · ${c.date || "undated"}`));
      const url = webUrl(c.url);
      if (url) {
        const orig = el("a", "orig", "publisher’s page");
        orig.href = url;
        orig.rel = "noopener noreferrer";
        cite.append(" ", orig);
      }
      return cite;
    }
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
