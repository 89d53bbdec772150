/* Support-scope chat widget. No framework, no build step.
 *
 * Embed with:
 *   <script>window.SupportScopeChat = {server: "https://bot.example", lang: "nb",
 *           title: "Support", colors: {accent: "#006d5b"}};</script>
 *   <script src="https://bot.example/webhooks/chat/static/widget.js"></script>
 *
 * Options: server (default: the script's origin), lang (en|nb|sv, default from
 * navigator.language), title, colors {accent, accentText, background, text,
 * userBubble, botBubble}, container (CSS selector: render inline there instead
 * of as a floating panel), open (floating panel open at start).
 *
 * Safety: every user or bot string goes into the page through textContent or
 * DOM nodes; innerHTML is never used.
 */
(function () {
  "use strict";
  if (window.__supportScopeChatLoaded) return;
  window.__supportScopeChatLoaded = true;

  var cfg = window.SupportScopeChat || {};
  var script = document.currentScript;
  var scriptUrl = script && script.src ? new URL(script.src, location.href) : new URL(location.href);
  var server = String(cfg.server || scriptUrl.origin).replace(/\/+$/, "");
  var staticBase = script && script.src ? script.src.replace(/[^/]*$/, "") : server + "/webhooks/chat/static/";
  var LANGS = ["en", "nb", "sv"];

  var STRINGS = {
    en: {
      title: "Support assistant", placeholder: "Ask about Kaspersky support…", send: "Send",
      inputLabel: "Your message", reconnecting: "Connection lost. Reconnecting…",
      reconnected: "Connected again.", helpful: "Was this helpful?", up: "Yes, helpful",
      down: "No, not helpful", thanks: "Thanks for your feedback!", language: "Language",
      typing: "The assistant is typing", messages: "Conversation", open: "Open support chat",
      close: "Close chat", reset: "New conversation", sources: "Sources",
      loading: "Loading…", clauseError: "Could not load this clause.", original: "Original wording",
      reference: "Reference", queue: "Queue", you: "You", bot: "Assistant",
      product: "Product", status: "Status", supportEnds: "Support ends", licence: "Licence",
      welcome: "Hi! Ask me what Kaspersky support covers, for example “Can you disinfect my PC?” or “Is my version still supported?”",
      notSent: "Not sent – the connection was lost. Please send it again.",
      withheld: "Not kept on this device: it holds personal details.",
      tooMany: "Not sent – too many messages at once. Please send it again in {s} s.",
      names: {en: "English", nb: "Norsk", sv: "Svenska"}
    },
    nb: {
      title: "Kundestøtteassistent", placeholder: "Spør om Kaspersky-støtte…", send: "Send",
      inputLabel: "Din melding", reconnecting: "Forbindelsen ble brutt. Kobler til på nytt…",
      reconnected: "Tilkoblet igjen.", helpful: "Var dette nyttig?", up: "Ja, nyttig",
      down: "Nei, ikke nyttig", thanks: "Takk for tilbakemeldingen!", language: "Språk",
      typing: "Assistenten skriver", messages: "Samtale", open: "Åpne støttechat",
      close: "Lukk chat", reset: "Ny samtale", sources: "Kilder",
      loading: "Laster…", clauseError: "Kunne ikke laste denne regelen.", original: "Original ordlyd",
      reference: "Referanse", queue: "Kø", you: "Du", bot: "Assistent",
      product: "Produkt", status: "Status", supportEnds: "Støtte slutter", licence: "Lisens",
      welcome: "Hei! Spør meg hva Kaspersky-støtten dekker, for eksempel «Kan dere fjerne virus fra PC-en min?» eller «Er versjonen min fortsatt støttet?»",
      notSent: "Ikke sendt – forbindelsen ble brutt. Send meldingen på nytt.",
      withheld: "Ikke lagret på denne enheten: den inneholder personopplysninger.",
      tooMany: "Ikke sendt – for mange meldinger på en gang. Send den igjen om {s} s.",
      names: {en: "English", nb: "Norsk", sv: "Svenska"}
    },
    sv: {
      title: "Supportassistent", placeholder: "Fråga om Kasperskys support…", send: "Skicka",
      inputLabel: "Ditt meddelande", reconnecting: "Anslutningen bröts. Återansluter…",
      reconnected: "Ansluten igen.", helpful: "Var detta till hjälp?", up: "Ja, till hjälp",
      down: "Nej, inte till hjälp", thanks: "Tack för din återkoppling!", language: "Språk",
      typing: "Assistenten skriver", messages: "Konversation", open: "Öppna supportchatten",
      close: "Stäng chatten", reset: "Ny konversation", sources: "Källor",
      loading: "Laddar…", clauseError: "Kunde inte ladda den här regeln.", original: "Ursprunglig lydelse",
      reference: "Referens", queue: "Kö", you: "Du", bot: "Assistent",
      product: "Produkt", status: "Status", supportEnds: "Supporten upphör", licence: "Licens",
      welcome: "Hej! Fråga mig vad Kasperskys support täcker, till exempel ”Kan ni ta bort virus från min dator?” eller ”Stöds min version fortfarande?”",
      notSent: "Inte skickat – anslutningen bröts. Skicka det igen.",
      withheld: "Inte sparat på den här enheten: det innehåller personuppgifter.",
      tooMany: "Inte skickat – för många meddelanden på en gång. Skicka det igen om {s} s.",
      names: {en: "English", nb: "Norsk", sv: "Svenska"}
    }
  };

  var DEFAULT_LABELS = {
    included: "Included", excluded: "Not included", paid: "Paid service",
    not_supported: "Not supported", no_guarantee: "No guarantee", conditional: "Depends",
    info: "Information", fallback: "Not understood"
  };

  function defaultLang() {
    var nav = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
    nav = String(nav).toLowerCase().split(/[-_]/)[0];
    if (nav === "nb" || nav === "no" || nav === "nn") return "nb";
    if (nav === "sv") return "sv";
    return "en";
  }

  // ---- persistent state -------------------------------------------------
  // The conversation is kept in the host site's localStorage, which never expires
  // and which every script of that site can read: so it is kept for HISTORY_MS
  // after its last message (state.at), and what quotes personal data is shown
  // but never written there (stored()).
  var STORE_KEY = "supportScopeChat:" + server;
  var SENDER_RE = /^[A-Za-z0-9_.:-]{1,64}$/;  // what the REST channel accepts
  var HISTORY_MS = 24 * 3600 * 1000;
  var state = load();
  save();  // what load() dropped or scrubbed leaves the storage now
  function load() {
    var s = null;
    try { s = JSON.parse(localStorage.getItem(STORE_KEY) || "null"); } catch (e) { s = null; }
    if (!s || typeof s !== "object" || !Array.isArray(s.history)) s = {history: []};
    var fresh = typeof s.at === "number" && Math.abs(Date.now() - s.at) <= HISTORY_MS;
    if (s.history.length && !fresh) {  // too old, or of no known age: start anew, as "reset" does
      s.history = []; s.sender = null; s.langChosen = false; delete s.at;
    }
    if (typeof s.sender !== "string" || !SENDER_RE.test(s.sender)) s.sender = null;  // ensureSender
    if (LANGS.indexOf(s.lang) < 0) s.lang = LANGS.indexOf(cfg.lang) >= 0 ? cfg.lang : defaultLang();
    return s;
  }
  function save() {
    try { localStorage.setItem(STORE_KEY, JSON.stringify(stored())); } catch (e) { /* storage full or blocked */ }
  }
  // Which of a reply's messages quote the visitor's personal data, known by their
  // shape rather than their wording: the request summary (offered with send /
  // change / cancel: /affirm /deny /stop) and the "filed" message, the text that
  // comes with a service_request payload (it names the e-mail address).
  function personal(messages) {
    var found = [];
    (Array.isArray(messages) ? messages : []).forEach(function (m, i) {
      if (!m || typeof m !== "object" || typeof m.text !== "string") return;
      var payloads = (Array.isArray(m.buttons) ? m.buttons : [])
        .map(function (b) { return b && b.payload; }).sort().join(" ");
      var next = messages[i + 1];
      if (payloads === "/affirm /deny /stop" || (m.custom && m.custom.service_request) ||
          (next && next.custom && next.custom.service_request)) found.push(i);
    });
    return found;
  }
  // The summary shows each value in part (bot/privacy/partial.py: each word's first
  // two letters, the e-mail's local part and domain names so, the description's
  // first 40 characters): a visitor's message is quoted in any of these forms.
  var HIDDEN = "\u2022";
  function partWords(value) {
    return value.replace(/[\p{L}\p{N}]+/gu, function (word) {
      var chars = Array.from(word);
      return chars.length <= 2 ? word : chars.slice(0, 2).join("") + HIDDEN.repeat(chars.length - 2);
    });
  }
  function shownForms(text) {
    var typed = String(text).trim(), forms = [typed, partWords(typed)];
    var at = typed.lastIndexOf("@");
    if (at > 0) {
      var local = Array.from(typed.slice(0, at)), names = typed.slice(at + 1).split("."), top = names.pop();
      var kept = local.slice(0, local.length > 2 ? 2 : 1).join("");
      forms.push(kept + HIDDEN.repeat(3) + "@" + names.map(partWords).concat([top]).join("."));
    }
    if (typed.length > 40) forms.push(typed.slice(0, 40));
    return forms;
  }
  // The state as written to storage: personal messages lose their text, and so do
  // the visitor's own earlier messages that they quote (the name, e-mail, company
  // typed into the form), and a bot turn's copy of such a question.
  function stored() {
    var copy = JSON.parse(JSON.stringify(state));
    var norm = function (x) { return String(x).toLowerCase().replace(/\s+/g, " ").trim(); };
    var quoting = [];  // {at: history index, text}
    copy.history.forEach(function (entry, at) {
      if (entry.type === "user") return;
      personal(entry.messages).forEach(function (i) {
        quoting.push({at: at, text: norm(entry.messages[i].text)});
        delete entry.messages[i].text; entry.messages[i].withheld = true;
      });
    });
    var quoted = function (text, at) {
      if (typeof text !== "string" || norm(text) === "") return false;
      var forms = shownForms(text).map(norm).filter(function (f) { return f !== ""; });
      return quoting.some(function (q) {
        return q.at >= at && forms.some(function (f) { return q.text.indexOf(f) >= 0; });
      });
    };
    copy.history.forEach(function (entry, at) {
      if (entry.type === "user" && quoted(entry.text, at)) { delete entry.text; entry.withheld = true; }
      if (entry.type !== "user" && quoted(entry.question, at)) delete entry.question;
    });
    return copy;
  }
  // A conversation id: an unguessable one from the server (POST /session), or,
  // when that fails, one made here from crypto.getRandomValues.
  var pendingSender = null;
  function ensureSender() {
    if (state.sender) return Promise.resolve(state.sender);
    if (!pendingSender) {
      pendingSender = request("POST", "/webhooks/chat/session", {})
        .then(function (r) { return r && typeof r.sender === "string" && SENDER_RE.test(r.sender) ? r.sender : newSender(); })
        .catch(function () { return newSender(); })
        .then(function (id) {
          pendingSender = null;
          if (!state.sender) { state.sender = id; save(); }
          return state.sender;
        });
    }
    return pendingSender;
  }
  function newSender() {
    var a = new Uint8Array(12);
    (window.crypto || {getRandomValues: function (x) { for (var i = 0; i < x.length; i++) x[i] = Math.random() * 256; return x; }}).getRandomValues(a);
    return "web-" + Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function t(key) { return (STRINGS[state.lang] || STRINGS.en)[key] || STRINGS.en[key] || key; }

  // ---- DOM helpers ------------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  var ICONS = {
    thumb: "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z",
    chat: "M20 2H4c-1.1 0-2 .9-2 2v18l4-4h14c1.1 0 2-.9 2-2V4c0-1.1-.9-2-2-2z"
  };
  // A decorative SVG icon (no emoji font needed), built with DOM APIs.
  function icon(name, size, flip) {
    var NS = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24"); svg.setAttribute("width", size); svg.setAttribute("height", size);
    svg.setAttribute("aria-hidden", "true"); svg.setAttribute("focusable", "false");
    var path = document.createElementNS(NS, "path");
    path.setAttribute("d", ICONS[name]); path.setAttribute("fill", "currentColor");
    if (flip) path.setAttribute("transform", "rotate(180 12 12)");
    svg.appendChild(path);
    return svg;
  }

  var URL_RE = /\bhttps?:\/\/[^\s<>"']+/g;
  function appendLinkified(parent, line) {
    var last = 0, m;
    URL_RE.lastIndex = 0;
    while ((m = URL_RE.exec(line)) !== null) {
      var url = m[0].replace(/[.,;:!?)\]}»”]+$/, "");
      if (m.index > last) parent.appendChild(document.createTextNode(line.slice(last, m.index)));
      var a = document.createElement("a");
      a.href = url; a.textContent = url;
      a.target = "_blank"; a.rel = "noopener noreferrer";
      parent.appendChild(a);
      last = m.index + url.length;
      URL_RE.lastIndex = last;
    }
    if (last < line.length) parent.appendChild(document.createTextNode(line.slice(last)));
  }

  // Text with kept line breaks, bare URLs as links, "• " lines as a list.
  function richText(text) {
    var frag = document.createDocumentFragment();
    var lines = String(text == null ? "" : text).split(/\r?\n/);
    var list = null, needBreak = false;
    lines.forEach(function (line) {
      var bullet = /^\s*[•\-*]\s+(.*)$/.exec(line);
      if (bullet && /^\s*•/.test(line) || (bullet && list)) {
        if (!list) { list = el("ul", {class: "ssc-list"}); frag.appendChild(list); }
        var li = el("li");
        appendLinkified(li, bullet[1]);
        list.appendChild(li);
        needBreak = false;
        return;
      }
      if (list && !line.trim()) { list = null; return; }  // the list's margin is the gap
      list = null;
      if (needBreak) frag.appendChild(document.createElement("br"));
      appendLinkified(frag, line);
      needBreak = true;
    });
    return frag;
  }

  // ---- network ----------------------------------------------------------
  function request(method, path, body) {
    var opts = {method: method, headers: {}};
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(server + path, opts).then(function (r) {
      if (!r.ok) {
        var e = new Error("HTTP " + r.status); e.status = r.status;
        e.retryAfter = parseInt(r.headers.get("Retry-After") || "", 10) || 0;
        throw e;
      }
      return r.status === 204 ? null : r.json();
    });
  }

  var labelCache = {};
  function labels(lang) {
    if (!labelCache[lang]) {
      labelCache[lang] = request("GET", "/webhooks/chat/labels?lang=" + encodeURIComponent(lang))
        .then(function (l) { return l && typeof l === "object" ? l : {}; })
        .catch(function () { delete labelCache[lang]; return {}; });
    }
    return labelCache[lang];
  }
  // The words for a lookup's values ("supported", "valid") in the page's language:
  // the answer payload keeps the contract's values, the server names them.
  var lookupLabelCache = {};
  function lookupLabels(lang) {
    if (!lookupLabelCache[lang]) {
      lookupLabelCache[lang] = request("GET", "/webhooks/chat/lookup-labels?lang=" + encodeURIComponent(lang))
        .then(function (l) { return l && typeof l === "object" ? l : {}; })
        .catch(function () { delete lookupLabelCache[lang]; return {}; });
    }
    return lookupLabelCache[lang];
  }
  var clauseCache = {};
  function clause(id, lang) {
    var key = lang + "|" + id;
    if (!clauseCache[key]) {
      clauseCache[key] = request("GET", "/webhooks/chat/clause/" + encodeURIComponent(id).replace(/%3A/gi, ":") + "?lang=" + encodeURIComponent(lang))
        .catch(function (e) { delete clauseCache[key]; throw e; });
    }
    return clauseCache[key];
  }

  // ---- UI ---------------------------------------------------------------
  var container = cfg.container ? document.querySelector(cfg.container) : null;
  var root, panel, header, titleEl, langLabel, langSelect, resetBtn, closeBtn, launcher,
      log, banner, form, input, inputLabel, sendBtn, typingEl;
  var busy = false, offline = false, pollTimer = null;

  function applyColors(node) {
    var c = cfg.colors || {};
    var map = {accent: "--ssc-accent", accentText: "--ssc-accent-text", background: "--ssc-bg",
               text: "--ssc-text", userBubble: "--ssc-user-bg", botBubble: "--ssc-bot-bg",
               userText: "--ssc-user-text", border: "--ssc-border"};
    Object.keys(map).forEach(function (k) {
      if (typeof c[k] === "string" && /^[#a-zA-Z0-9(),.%\s-]+$/.test(c[k])) node.style.setProperty(map[k], c[k]);
    });
  }

  function build() {
    if (!document.querySelector("link[data-ssc-css]")) {
      document.head.appendChild(el("link", {rel: "stylesheet", href: staticBase + "widget.css", "data-ssc-css": "1"}));
    }
    root = el("div", {class: "ssc-root " + (container ? "ssc-inline" : "ssc-floating")});
    applyColors(root);

    titleEl = el("h2", {class: "ssc-title", id: "ssc-title"});
    langLabel = el("label", {class: "ssc-visually-hidden", for: "ssc-lang"});
    langSelect = el("select", {id: "ssc-lang", class: "ssc-lang", onchange: function () {
      state.langChosen = true; setLang(langSelect.value); save();
    }});
    LANGS.forEach(function (l) { langSelect.appendChild(el("option", {value: l, lang: l})); });
    resetBtn = el("button", {type: "button", class: "ssc-icon-btn ssc-reset", onclick: resetConversation}, ["↺"]);
    closeBtn = container ? null : el("button", {type: "button", class: "ssc-icon-btn ssc-close", onclick: function () { setOpen(false); }}, ["×"]);
    header = el("div", {class: "ssc-header"}, [titleEl, el("div", {class: "ssc-tools"}, [langLabel, langSelect, resetBtn, closeBtn])]);

    banner = el("div", {class: "ssc-banner", role: "status", "aria-live": "assertive", hidden: true});
    log = el("div", {class: "ssc-log", role: "log", "aria-live": "polite", "aria-relevant": "additions", tabindex: "0"});
    typingEl = el("div", {class: "ssc-msg ssc-bot ssc-typing", role: "status", hidden: true},
      [el("span", {class: "ssc-dot", "aria-hidden": "true"}), el("span", {class: "ssc-dot", "aria-hidden": "true"}),
       el("span", {class: "ssc-dot", "aria-hidden": "true"}), el("span", {class: "ssc-visually-hidden ssc-typing-text"})]);

    inputLabel = el("label", {for: "ssc-input", class: "ssc-visually-hidden"});
    input = el("input", {id: "ssc-input", class: "ssc-input", type: "text", autocomplete: "off", maxlength: "1000"});
    sendBtn = el("button", {type: "submit", class: "ssc-send"});
    form = el("form", {class: "ssc-form", onsubmit: function (ev) {
      ev.preventDefault();
      var text = input.value.trim();
      if (!text || busy || offline) return;
      input.value = "";
      send(text, text);
    }}, [inputLabel, input, sendBtn]);

    panel = el("section", {class: "ssc-panel", "aria-labelledby": "ssc-title"}, [header, banner, log, typingEl, form]);
    root.appendChild(panel);

    if (container) {
      container.appendChild(root);
    } else {
      launcher = el("button", {type: "button", class: "ssc-launcher", "aria-expanded": "false",
        onclick: function () { setOpen(!state.open); }}, [icon("chat", 28)]);
      root.appendChild(launcher);
      document.body.appendChild(root);
      setOpen(state.open === undefined ? !!cfg.open : state.open, true);
    }
    applyStrings();
    renderAll();
  }

  function setOpen(open, initial) {
    state.open = !!open; save();
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(!!open));
    root.classList.toggle("ssc-open", !!open);
    if (!initial) (open ? input : launcher).focus();
  }

  function applyStrings() {
    var title = cfg.title || t("title");
    titleEl.textContent = title;
    langLabel.textContent = t("language");
    langSelect.value = state.lang;
    Array.prototype.forEach.call(langSelect.options, function (o) { o.textContent = t("names")[o.value]; });
    resetBtn.setAttribute("aria-label", t("reset")); resetBtn.title = t("reset");
    if (closeBtn) { closeBtn.setAttribute("aria-label", t("close")); closeBtn.title = t("close"); }
    if (launcher) { launcher.setAttribute("aria-label", t("open")); launcher.title = t("open"); }
    log.setAttribute("aria-label", t("messages"));
    typingEl.querySelector(".ssc-typing-text").textContent = t("typing");
    inputLabel.textContent = t("inputLabel");
    input.placeholder = t("placeholder");
    sendBtn.textContent = t("send");
    banner.textContent = t("reconnecting");
    root.setAttribute("lang", state.lang);
    var welcome = log.querySelector(".ssc-welcome");
    if (welcome) welcome.textContent = t("welcome");
  }

  function setLang(lang, fromReply) {
    if (LANGS.indexOf(lang) < 0 || lang === state.lang) return;
    state.lang = lang; save();
    applyStrings();
    if (fromReply) langSelect.value = lang;
  }

  function resetConversation() {
    state.history = []; state.sender = null; state.langChosen = false; save();
    renderAll(); input.focus();
    ensureSender();
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function renderAll() {
    while (log.firstChild) log.removeChild(log.firstChild);
    if (!state.history.length) log.appendChild(el("p", {class: "ssc-welcome", text: t("welcome")}));
    state.history.forEach(function (entry) { log.appendChild(renderEntry(entry)); });
    scrollDown();
  }

  function renderEntry(entry) {
    if (entry.type === "user") {
      return el("div", {class: "ssc-msg ssc-user" + (entry.failed ? " ssc-failed" : "")}, [
        el("span", {class: "ssc-visually-hidden", text: t("you") + ": "}),
        entry.withheld ? el("span", {class: "ssc-text ssc-withheld", text: t("withheld")})
          : el("span", {class: "ssc-text", text: entry.text}),
        entry.failed ? el("span", {class: "ssc-note", text: entry.retryAfter
          ? t("tooMany").replace("{s}", String(entry.retryAfter)) : t("notSent")}) : null
      ]);
    }
    return renderBotTurn(entry);
  }

  // A turn may carry several answers (answer contract, section 2a): each answer
  // is its text messages followed by its own custom answer, so each gets its own
  // verdict, citations and feedback, right below its text.
  function renderBotTurn(entry) {
    var turn = el("div", {class: "ssc-turn"});
    var texts = [], buttonGroups = [], answers = 0;
    (entry.messages || []).forEach(function (m) {
      if (!m || typeof m !== "object") return;
      if (typeof m.text === "string") {
        texts.push(m.text);
        var bubble = el("div", {class: "ssc-msg ssc-bot"}, [el("span", {class: "ssc-visually-hidden", text: t("bot") + ": "})]);
        var body = el("div", {class: "ssc-text"}); body.appendChild(richText(m.text)); bubble.appendChild(body);
        turn.appendChild(bubble);
      } else if (m.withheld) {
        turn.appendChild(el("div", {class: "ssc-msg ssc-bot"}, [
          el("span", {class: "ssc-visually-hidden", text: t("bot") + ": "}),
          el("div", {class: "ssc-text ssc-withheld", text: t("withheld")})]));
      }
      if (typeof m.image === "string" && /^https?:\/\//.test(m.image)) {
        turn.appendChild(el("div", {class: "ssc-msg ssc-bot"}, [el("img", {src: m.image, alt: "", class: "ssc-image"})]));
      }
      if (m.custom && m.custom.service_request) turn.appendChild(renderServiceRequest(m.custom.service_request));
      if (Array.isArray(m.buttons) && m.buttons.length) buttonGroups.push(renderButtons(m.buttons));
      if (m.custom && m.custom.answer) {
        turn.appendChild(renderAnswerMeta(entry, m.custom.answer, texts.join("\n"), answers));
        if (!answers) turn.setAttribute("data-verdict", m.custom.answer.verdict || "");
        answers += 1; texts = [];
        // a turn's buttons belong to the answer they follow: under it, before the next
        buttonGroups.forEach(function (g) { turn.appendChild(g); }); buttonGroups = [];
      }
    });
    turn.setAttribute("data-answers", String(answers));
    buttonGroups.forEach(function (g) { turn.appendChild(g); });  // quick replies of no answer
    return turn;
  }

  function renderAnswerMeta(entry, answer, answerText, index) {
    var lang = answer.lang || state.lang;
    var meta = el("div", {class: "ssc-answer-meta", "data-answer": String(index)});
    if (answer.verdict) meta.appendChild(renderBadge(answer.verdict, lang));
    if (answer.lookup) meta.appendChild(renderLookup(answer.lookup, lang));
    if (Array.isArray(answer.rule_ids) && answer.rule_ids.length) meta.appendChild(renderCitations(answer.rule_ids, lang));
    meta.appendChild(renderFeedback(entry, answer, answerText, index));
    return meta;
  }

  function renderBadge(verdict, lang) {
    var safe = String(verdict).replace(/[^a-z_]/g, "");
    var badge = el("span", {class: "ssc-badge ssc-verdict-" + safe, "data-verdict": safe,
      text: DEFAULT_LABELS[safe] || safe});
    labels(lang).then(function (l) {
      if (l && typeof l[verdict] === "string" && l[verdict]) badge.textContent = l[verdict];
    });
    return badge;
  }

  function renderLookup(lookup, lang) {
    var rows = [["product", [lookup.product, lookup.version].filter(Boolean).join(" ")],
                ["status", lookup.status], ["supportEnds", lookup.support_ends], ["licence", lookup.licence]];
    var dl = el("dl", {class: "ssc-lookup"});
    rows.forEach(function (r) {
      if (!r[1]) return;
      var dd = el("dd", {text: String(r[1]).replace(/_/g, " "), "data-field": r[0], "data-value": String(r[1])});
      dl.appendChild(el("dt", {text: t(r[0])})); dl.appendChild(dd);
      if (r[0] !== "status" && r[0] !== "licence") return;
      lookupLabels(lang).then(function (l) {  // the value in the answer's language
        var word = l && l[r[0]] && l[r[0]][r[1]];
        if (typeof word === "string" && word) dd.textContent = word;
      });
    });
    return dl;
  }

  var chipSeq = 0;
  // A row of citation chips (buttons with aria-expanded); each opens its clause's
  // wording, fetched from /clause/<id>, in a panel below the row.
  function renderCitations(ids, lang) {
    var wrap = el("div", {class: "ssc-citations", role: "group", "aria-label": t("sources")});
    var row = el("div", {class: "ssc-chips"});
    var panels = el("div", {class: "ssc-clauses"});
    wrap.appendChild(row); wrap.appendChild(panels);
    ids.forEach(function (id) {
      var panelId = "ssc-clause-" + (++chipSeq);
      var body = el("div", {class: "ssc-clause", id: panelId, "data-rule-id": id, hidden: true});
      var chip = el("button", {type: "button", class: "ssc-chip", "data-rule-id": id,
        "aria-expanded": "false", "aria-controls": panelId}, [el("span", {"aria-hidden": "true", text: "§ "}), String(id)]);
      var loaded = false;
      chip.addEventListener("click", function () {
        var open = chip.getAttribute("aria-expanded") !== "true";
        chip.setAttribute("aria-expanded", String(open));
        body.hidden = !open;
        if (!open || loaded) return;
        loaded = true;
        body.textContent = t("loading");
        clause(id, lang).then(function (c) {
          body.textContent = "";
          var head = el("div", {class: "ssc-clause-head"}, [el("span", {class: "ssc-clause-id", text: String(id)})]);
          if (c.label || c.verdict) head.appendChild(el("span", {class: "ssc-clause-label", text: c.label || c.verdict}));
          body.appendChild(head);
          var p = el("p", {class: "ssc-clause-text"}); p.appendChild(richText(c.text || "")); body.appendChild(p);
          if (c.original && c.original !== c.text) {
            var orig = el("blockquote", {class: "ssc-clause-original"});
            orig.appendChild(el("span", {class: "ssc-clause-original-label", text: t("original") + ": "}));
            orig.appendChild(richText(c.original));
            body.appendChild(orig);
          }
          if (c.citation) body.appendChild(el("p", {class: "ssc-clause-citation", text: c.citation}));
          if (body.scrollIntoView) body.scrollIntoView({block: "nearest"});
        }).catch(function () { loaded = false; body.textContent = t("clauseError"); });
      });
      row.appendChild(chip); panels.appendChild(body);
    });
    return wrap;
  }

  function renderFeedback(entry, answer, answerText, index) {
    var key = index ? "feedback" + index : "feedback";  // one rating per answer of the turn
    var status = el("span", {class: "ssc-feedback-status", role: "status"});
    var box = el("div", {class: "ssc-feedback", role: "group", "aria-label": t("helpful")},
      [el("span", {class: "ssc-feedback-q", text: t("helpful")})]);
    var buttons = {};
    ["up", "down"].forEach(function (rating) {
      var b = el("button", {type: "button", class: "ssc-thumb ssc-thumb-" + rating, "data-rating": rating,
        "aria-label": t(rating), title: t(rating), "aria-pressed": String(entry[key] === rating),
        onclick: function () { giveFeedback(rating); }}, [icon("thumb", 16, rating === "down")]);
      buttons[rating] = b; box.appendChild(b);
    });
    box.appendChild(status);
    if (entry[key]) status.textContent = t("thanks");
    function giveFeedback(rating) {
      if (entry[key] === rating) return;
      var body = {sender: state.sender, rating: rating, question: answer.segment || entry.question || "", answer: answerText,
                  rule_ids: answer.rule_ids || [], verdict: answer.verdict || "", lang: answer.lang || state.lang};
      buttons.up.disabled = buttons.down.disabled = true;
      request("POST", "/webhooks/chat/feedback", body).then(function () {
        entry[key] = rating; save();
        buttons.up.setAttribute("aria-pressed", String(rating === "up"));
        buttons.down.setAttribute("aria-pressed", String(rating === "down"));
        status.textContent = t("thanks");
      }).catch(function (e) {
        if (!e.status) goOffline();
      }).then(function () { buttons.up.disabled = buttons.down.disabled = false; });
    }
    return box;
  }

  function renderServiceRequest(sr) {
    var card = el("div", {class: "ssc-service-request"});
    if (sr.reference) card.appendChild(el("div", {}, [el("strong", {text: t("reference") + ": "}), String(sr.reference)]));
    if (sr.queue) card.appendChild(el("div", {}, [t("queue") + ": " + String(sr.queue).replace(/_/g, " ")]));
    return card;
  }

  function renderButtons(buttons) {
    var group = el("div", {class: "ssc-buttons", role: "group"});
    buttons.forEach(function (b) {
      if (!b || (typeof b.payload !== "string" && typeof b.title !== "string")) return;
      var title = String(b.title || b.payload), payload = String(b.payload || b.title);
      group.appendChild(el("button", {type: "button", class: "ssc-quick", "data-payload": payload,
        onclick: function () { if (!busy && !offline) send(payload, title); }}, [title]));
    });
    return group;
  }

  // ---- sending ----------------------------------------------------------
  function setBusy(b) {
    busy = b;
    typingEl.hidden = !b;
    updateControls();
    if (b) { log.appendChild(typingEl); scrollDown(); }
  }
  function updateControls() {
    sendBtn.disabled = busy || offline;
    Array.prototype.forEach.call(root.querySelectorAll(".ssc-quick"), function (q) { q.disabled = busy || offline; });
  }

  function send(payload, shown) {
    var welcome = log.querySelector(".ssc-welcome");
    if (welcome) log.removeChild(welcome);
    var userEntry = {type: "user", text: shown};
    state.history.push(userEntry); state.at = Date.now(); save();
    var userNode = renderEntry(userEntry);
    log.appendChild(userNode); scrollDown();
    setBusy(true);
    // The server lets an explicit metadata.lang win over the language it detects
    // in the text. So the language is sent when the user picked it with the
    // switch, or for a button payload (nothing to detect); otherwise the server
    // detects it, and the switch follows the reply's language.
    ensureSender().then(function (sender) {
      var body = {sender: sender, message: payload};
      if (state.langChosen || payload.charAt(0) === "/") body.metadata = {lang: state.lang};
      return request("POST", "/webhooks/rest/webhook", body);
    })
      .then(function (messages) {
        if (!Array.isArray(messages)) messages = [];
        var entry = {type: "bot", question: shown, messages: messages};
        var answer = null;
        messages.forEach(function (m) { if (m && m.custom && m.custom.answer) answer = m.custom.answer; });
        if (answer && answer.lang && answer.lang !== state.lang) setLang(answer.lang, true);
        state.history.push(entry); state.at = Date.now(); save();
        setBusy(false);
        if (messages.length) log.appendChild(renderEntry(entry));
        scrollDown();
        // Back to the input for the next question, unless the visitor has moved
        // on to something else on the host page meanwhile.
        var active = document.activeElement;
        if (!active || active === document.body || root.contains(active)) input.focus();
      })
      .catch(function (e) {
        userEntry.failed = true;
        // Over the rate limit the server is there: say when to send it again, give
        // the text back to the input, and stay online (no reconnecting banner).
        var limited = e && e.status === 429;
        if (limited) userEntry.retryAfter = Math.max(1, e.retryAfter || 1);
        save();
        var failedNode = renderEntry(userEntry);
        log.replaceChild(failedNode, userNode);
        setBusy(false);
        if (!limited) { goOffline(); return; }
        if (!input.value) input.value = shown.charAt(0) === "/" ? "" : shown;
        input.focus();
      });
  }

  // ---- connection banner ------------------------------------------------
  function goOffline() {
    if (offline) return;
    offline = true;
    banner.textContent = t("reconnecting");
    banner.hidden = false;
    root.classList.add("ssc-offline");
    updateControls();
    poll();
  }
  function poll() {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(function () {
      request("GET", "/webhooks/chat/health").then(function (h) {
        if (h && h.status === "ok") backOnline(); else poll();
      }).catch(poll);
    }, 2500);
  }
  function backOnline() {
    offline = false;
    banner.hidden = true;
    root.classList.remove("ssc-offline");
    updateControls();
  }

  window.SupportScopeChat = window.SupportScopeChat || cfg;
  window.SupportScopeChat.api = {
    send: function (text) { if (!busy && !offline) send(text, text); },
    setLang: function (l) { setLang(l); },
    reset: resetConversation,
    state: function () { return JSON.parse(JSON.stringify(state)); }
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", build);
  else build();
})();
