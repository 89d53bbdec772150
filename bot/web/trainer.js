/* The trainer page: the inbox of misunderstood messages, assigning them to
 * intents, retraining and the latest evaluation. No framework, no build step.
 *
 * Talks to /webhooks/trainer/api/... (bot/rasa_addons/channels/trainer_page.py) with
 * the trainer token as a Bearer header; the token is asked for once and kept in
 * sessionStorage (gone when the tab closes), never put in a URL.
 *
 * Safety: every string from the server goes into the page through textContent
 * or DOM nodes; innerHTML is never used. The insights' charts are SVG the server
 * draws (bot/insights/charts.py, every text escaped), parsed as XML by DOMParser.
 */
(function () {
  "use strict";

  var TOKEN_KEY = "supportScopeTrainer:token";
  var REASONS = ["fallback", "low_confidence", "ambiguous", "did_you_mean", "thumbs_down", "rephrased"];
  var REASON_LABELS = {
    fallback: "fell back", low_confidence: "low confidence", ambiguous: "ambiguous",
    did_you_mean: "did-you-mean click", thumbs_down: "thumbs down", rephrased: "rephrased next"
  };
  var POLL_MS = 1500;
  var MAX_OPTIONS = 12;

  var state = {
    token: null,
    entries: [],
    selected: -1,
    intents: [],
    byIntent: {},
    busy: {},        // entry id -> true while an action runs
    results: {},     // entry id -> {ok, text, check, error}
    contexts: {},    // entry id -> context lines
    retrainTimer: null
  };

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function fmt(x, digits) { return typeof x === "number" ? x.toFixed(digits === undefined ? 2 : digits) : "–"; }
  function when(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toLocaleString();
  }
  function kbd(key) { return el("kbd", null, key); }

  // ---- token and requests ---------------------------------------------------

  function loadToken() {
    try { return sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }
  function saveToken(value) {
    state.token = value;
    try {
      if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
    } catch (e) { /* storage blocked: the token lives in memory only */ }
  }

  function Unauthorised() {}

  function api(method, path, body) {
    var headers = {"Accept": "application/json"};
    if (state.token) headers.Authorization = "Bearer " + state.token;
    var init = {method: method, headers: headers, cache: "no-store", credentials: "omit"};
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch("api/" + path, init).then(function (response) {
      if (response.status === 401) { signOut("The token was not accepted. Enter it again."); throw new Unauthorised(); }
      return response.json().catch(function () { return {error: "unexpected answer (HTTP " + response.status + ")"}; })
        .then(function (data) {
          if (response.status === 503 && data && /disabled/.test(data.error || "")) showDisabled(data.error);
          return {status: response.status, data: data || {}};
        });
    });
  }

  function banner(text, ok) {
    var node = $("tr-banner");
    node.textContent = text;
    node.className = "tr-banner" + (ok ? " tr-ok" : "");
    node.hidden = !text;
  }
  function failed(error) {
    if (error instanceof Unauthorised) return;
    banner("The server could not be reached: " + (error && error.message ? error.message : error));
  }

  // ---- sign in ----------------------------------------------------------------

  function showDisabled(text) {
    $("tr-disabled-text").textContent = text;
    $("tr-disabled").hidden = false;
    $("tr-login").hidden = true;
    $("tr-main").hidden = true;
    $("tr-tools").hidden = true;
  }

  function signOut(message) {
    saveToken(null);
    stopPolling();
    $("tr-main").hidden = true;
    $("tr-tools").hidden = true;
    $("tr-login").hidden = false;
    $("tr-login-error").textContent = message || "";
    $("tr-counts").textContent = "";
    $("tr-token").value = "";
    $("tr-token").focus();
  }

  function start() {
    fetch("api/state", {cache: "no-store", credentials: "omit"})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (!s.enabled) { showDisabled(s.enable); return; }
        $("tr-login-hint").textContent = s.enable;
        state.token = loadToken();
        if (state.token) openInbox(); else signOut("");
      })
      .catch(failed);
  }

  $("tr-login").addEventListener("submit", function (event) {
    event.preventDefault();
    var value = $("tr-token").value.trim();
    if (!value) return;
    saveToken(value);
    $("tr-token").value = "";
    openInbox();
  });
  $("tr-signout").addEventListener("click", function () { signOut("Signed out. The token is forgotten in this tab."); });

  // ---- views: the inbox and the insights (#inbox?intent=..., #insights) ------

  function showView(name) {
    var insights = name === "insights";
    $("tr-inbox-view").hidden = insights;
    $("tr-insights").hidden = !insights;
    $("tr-tab-inbox").setAttribute("aria-selected", String(!insights));
    $("tr-tab-insights").setAttribute("aria-selected", String(insights));
  }

  function route() {
    if ($("tr-main").hidden) return;
    var hash = location.hash.replace(/^#/, "");
    if (hash === "insights") { showView("insights"); if (!state.insightsLoaded) loadInsights(); return; }
    showView("inbox");
    if (hash.indexOf("inbox?") === 0) {
      var params = new URLSearchParams(hash.slice(6));
      $("tr-f-intent").value = params.get("intent") || "";
      $("tr-f-status").value = "all";
      loadInbox();
    }
  }
  window.addEventListener("hashchange", route);
  $("tr-tab-inbox").addEventListener("click", function () { location.hash = "inbox"; });
  $("tr-tab-insights").addEventListener("click", function () { location.hash = "insights"; });

  function openInbox() {
    // The intents first (a cheap authorised call that also checks the token).
    api("GET", "intents").then(function (r) {
      if (r.status !== 200) { banner(r.data.error || "HTTP " + r.status); return; }
      $("tr-login").hidden = true;
      $("tr-main").hidden = false;
      $("tr-tools").hidden = false;
      setIntents(r.data.intents || []);
      route();
      sync(true);
      refreshRetrain();
      loadEvaluation();
      $("tr-list").focus();
    }).catch(failed);
  }

  // ---- intents --------------------------------------------------------------

  function setIntents(list) {
    state.intents = list;
    state.byIntent = {};
    var names = $("tr-intent-names");
    clear(names);
    list.forEach(function (info) {
      state.byIntent[info.intent] = info;
      var option = el("option");
      option.value = info.intent;
      option.label = title(info, "en");
      names.appendChild(option);
    });
  }
  function title(info, lang) {
    if (!info) return "";
    return (info.titles && (info.titles[lang] || info.titles.en)) || info.intent;
  }
  function intentLabel(name, lang) {
    var info = state.byIntent[name];
    return info && info.topic ? title(info, lang) + " (" + name + ")" : name;
  }

  // ---- the inbox --------------------------------------------------------------

  var reasonSelect = $("tr-f-reason");
  REASONS.forEach(function (r) {
    var option = el("option", null, REASON_LABELS[r]);
    option.value = r;
    reasonSelect.appendChild(option);
  });

  function query() {
    var params = new URLSearchParams();
    [["lang", "tr-f-lang"], ["reason", "tr-f-reason"], ["status", "tr-f-status"], ["intent", "tr-f-intent"],
     ["min_confidence", "tr-f-min"], ["max_confidence", "tr-f-max"]].forEach(function (pair) {
      var value = $(pair[1]).value.trim();
      if (value) params.set(pair[0], value);
    });
    return params.toString();
  }

  function sync(quiet) {
    return api("POST", "inbox/sync").then(function (r) {
      if (r.status !== 200) banner("Sync failed: " + (r.data.error || "HTTP " + r.status));
      else if (!quiet) banner("Inbox synced: " + r.data.summary + ".", true);
      return loadInbox();
    }).catch(failed);
  }
  $("tr-sync").addEventListener("click", function () { sync(false); });

  function loadInbox() {
    var keep = state.entries[state.selected] ? state.entries[state.selected].id : null;
    return api("GET", "inbox?" + query()).then(function (r) {
      if (r.status !== 200) { $("tr-filter-error").textContent = r.data.error || "HTTP " + r.status; return; }
      $("tr-filter-error").textContent = "";
      state.entries = r.data.entries || [];
      $("tr-total").textContent = "(" + r.data.total + (r.data.total > state.entries.length ? ", first " + state.entries.length + " shown" : "") + ")";
      var at = -1;
      state.entries.forEach(function (e, i) { if (e.id === keep) at = i; });
      state.selected = at >= 0 ? at : (state.entries.length ? 0 : -1);
      renderList();
      renderDetail();
      updateCounts();
    }).catch(failed);
  }
  var filterTimer = null;
  $("tr-filters").addEventListener("input", function () {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(loadInbox, 250);
  });
  $("tr-filters").addEventListener("submit", function (event) { event.preventDefault(); loadInbox(); });

  function updateCounts() {
    var waiting = state.entries.filter(function (e) { return e.status === "new"; }).length;
    $("tr-counts").textContent = waiting + " to review";
  }

  function confidence(value) {
    var wrap = el("span", "tr-conf");
    var bar = el("span", "tr-bar");
    var fill = el("span");
    fill.style.width = Math.round(Math.max(0, Math.min(1, value || 0)) * 100) + "%";
    bar.appendChild(fill);
    wrap.appendChild(bar);
    wrap.appendChild(el("span", null, fmt(value)));
    return wrap;
  }

  function suggestionOf(entry) { return entry.suggestion || entry.intent || null; }

  function renderRow(entry, index) {
    var li = el("li", "tr-row" + (entry.status !== "new" ? " tr-resolved" : ""));
    li.id = "tr-entry-" + entry.id;
    li.setAttribute("role", "option");
    li.setAttribute("aria-selected", index === state.selected ? "true" : "false");
    li.dataset.id = entry.id;
    li.dataset.status = entry.status;
    li.appendChild(el("div", "tr-text", entry.text));
    var meta = el("div", "tr-meta");
    meta.appendChild(el("span", "tr-chip tr-lang", entry.lang));
    if (entry.status !== "new") {
      meta.appendChild(el("span", "tr-chip tr-status tr-status-" + entry.status, entry.status.replace(/_/g, " ")));
    }
    (entry.reasons || []).forEach(function (r) { meta.appendChild(el("span", "tr-chip tr-reason", REASON_LABELS[r] || r)); });
    if (entry.intent) {
      var predicted = el("span", null, "predicted ");
      predicted.appendChild(el("span", "tr-mono", entry.intent));
      meta.appendChild(predicted);
      meta.appendChild(confidence(entry.confidence));
    }
    if (entry.suggestion && entry.suggestion !== entry.intent) {
      var sugg = el("span", null, "→ ");
      sugg.appendChild(el("span", "tr-mono", entry.suggestion));
      meta.appendChild(sugg);
    }
    if (entry.count > 1) meta.appendChild(el("span", null, "×" + entry.count));
    meta.appendChild(el("span", null, when(entry.last_seen)));
    li.appendChild(meta);
    var result = state.results[entry.id];
    if (result) li.appendChild(verdictNode(result));
    li.addEventListener("click", function () { select(index); });
    return li;
  }

  function renderList() {
    var list = $("tr-list");
    clear(list);
    state.entries.forEach(function (entry, i) { list.appendChild(renderRow(entry, i)); });
    $("tr-empty").hidden = state.entries.length > 0;
    $("tr-empty").textContent = "Nothing here" + (query().replace(/(^|&)status=new/, "") ? " for these filters." : ": no message to review.");
    if (state.selected >= 0) list.setAttribute("aria-activedescendant", "tr-entry-" + state.entries[state.selected].id);
    else list.removeAttribute("aria-activedescendant");
  }

  function replaceRow(index) {
    var old = $("tr-entry-" + state.entries[index].id);
    var row = renderRow(state.entries[index], index);
    if (old) old.parentNode.replaceChild(row, old);
  }

  function select(index) {
    if (index < 0 || index >= state.entries.length) return;
    var before = state.selected;
    state.selected = index;
    if (before >= 0 && before < state.entries.length) replaceRow(before);
    replaceRow(index);
    var row = $("tr-entry-" + state.entries[index].id);
    if (row) row.scrollIntoView({block: "nearest"});
    $("tr-list").setAttribute("aria-activedescendant", "tr-entry-" + state.entries[index].id);
    renderDetail();
  }

  function move(step) {
    if (!state.entries.length) return;
    var next = state.selected < 0 ? 0 : Math.max(0, Math.min(state.entries.length - 1, state.selected + step));
    select(next);
  }

  function nextNew(from) {
    for (var i = from + 1; i < state.entries.length; i++) if (state.entries[i].status === "new") return i;
    return -1;
  }

  // ---- the selected entry -----------------------------------------------------

  function current() { return state.selected >= 0 ? state.entries[state.selected] : null; }

  function renderDetail() {
    var body = $("tr-detail-body");
    clear(body);
    var entry = current();
    if (!entry) { body.appendChild(el("p", "tr-muted", "Select an entry (j / k).")); return; }
    body.appendChild(el("p", "tr-detail-text", entry.text));
    var meta = el("div", "tr-meta");
    meta.appendChild(el("span", "tr-chip tr-lang", entry.lang));
    meta.appendChild(el("span", "tr-chip tr-status tr-status-" + entry.status, entry.status.replace(/_/g, " ")));
    meta.appendChild(el("span", null, "seen " + entry.count + "× · first " + when(entry.first_seen) + " · last " + when(entry.last_seen)));
    if (entry.rule_ids && entry.rule_ids.length) meta.appendChild(el("span", "tr-mono", "answered with " + entry.rule_ids.join(", ")));
    body.appendChild(meta);

    if (entry.top3 && entry.top3.length) {
      var top = el("div", "tr-section");
      top.appendChild(el("h3", null, "The model's top three"));
      var ol = el("ol", "tr-top3");
      entry.top3.forEach(function (t) {
        var li = el("li");
        li.appendChild(el("span", null, intentLabel(t.intent, entry.lang) + " "));
        li.appendChild(confidence(t.confidence));
        ol.appendChild(li);
      });
      top.appendChild(ol);
      body.appendChild(top);
    }

    var suggestion = suggestionOf(entry);
    var actions = el("div", "tr-actions");
    var accept = el("button", "tr-primary");
    accept.type = "button";
    accept.id = "tr-accept";
    accept.appendChild(document.createTextNode(suggestion ? "Assign to " + intentLabel(suggestion, entry.lang) + " " : "No suggestion "));
    accept.appendChild(kbd("Enter"));
    accept.disabled = !suggestion || entry.status !== "new";
    accept.addEventListener("click", function () { acceptSuggestion(); });
    actions.appendChild(accept);
    [["Ignore", "i", function () { resolve("ignore"); }],
     ["Out of scope", "o", function () { resolve("oos"); }]].forEach(function (spec) {
      var button = el("button", "tr-btn");
      button.type = "button";
      button.appendChild(document.createTextNode(spec[0] + " "));
      button.appendChild(kbd(spec[1]));
      button.disabled = entry.status !== "new";
      button.addEventListener("click", spec[2]);
      actions.appendChild(button);
    });
    body.appendChild(actions);
    if (entry.suggestion) {
      var why = (entry.reasons || []).indexOf("did_you_mean") >= 0 ? "the user clicked it" :
        (entry.reasons || []).indexOf("rephrased") >= 0 ? "the user's rephrasing was understood as it" : "from the conversation";
      body.appendChild(el("p", "tr-muted", "Suggested because " + why + "."));
    } else if (suggestion) {
      body.appendChild(el("p", "tr-muted", "Suggested: the model's own best guess."));
    }
    if (entry.status === "new") body.appendChild(combo(entry));
    else if (entry.assigned_intent || entry.file) {
      body.appendChild(el("p", "tr-muted", "Resolved" + (entry.assigned_intent ? " as " + entry.assigned_intent : "") + (entry.file ? " in " + entry.file : "") + "."));
    }

    var result = state.results[entry.id];
    if (result) body.appendChild(verdictNode(result, true));
    var ctx = el("div", "tr-section");
    ctx.appendChild(el("h3", null, "Conversation"));
    var box = el("div");
    box.id = "tr-context";
    ctx.appendChild(box);
    body.appendChild(ctx);
    var lines = state.contexts[entry.id];
    if (lines) box.appendChild(contextNode(lines));
    else { box.appendChild(el("p", "tr-muted", "Loading…")); loadContext(entry.id); }
  }

  function contextNode(lines) {
    if (!lines.length) return el("p", "tr-muted", "The conversation is no longer stored.");
    var ol = el("ol", "tr-context");
    lines.forEach(function (line) {
      ol.appendChild(el("li", (line.who === "user" ? "tr-ctx-user" : "tr-ctx-bot") + (line.this ? " tr-ctx-this" : ""), line.text));
    });
    return ol;
  }

  var contextTimer = null;
  function loadContext(id) {
    clearTimeout(contextTimer);
    contextTimer = setTimeout(function () {  // j/k held down: only the entry it stops on
      api("GET", "inbox/" + id).then(function (r) {
        state.contexts[id] = r.status === 200 ? (r.data.context || []) : [];
        var entry = current();
        var box = $("tr-context");
        if (entry && entry.id === id && box) {  // only the box: the trainer may be typing above
          clear(box);
          box.appendChild(contextNode(state.contexts[id]));
        }
      }).catch(failed);
    }, 150);
  }

  // ---- type-ahead of intents --------------------------------------------------

  function matches(text, lang) {
    var words = text.toLowerCase().split(/\s+/).filter(Boolean);
    return state.intents.filter(function (info) {
      var hay = [info.intent, info.description].concat(Object.keys(info.titles || {}).map(function (k) { return info.titles[k]; })).join(" ").toLowerCase();
      return words.every(function (w) { return hay.indexOf(w) >= 0; });
    }).slice(0, MAX_OPTIONS);
  }

  function combo(entry) {
    var wrap = el("div", "tr-combo");
    var label = el("label", "tr-label", "Assign to another intent ");
    label.setAttribute("for", "tr-assign");
    label.appendChild(kbd("a"));
    wrap.appendChild(label);
    var input = el("input", "tr-input");
    input.id = "tr-assign";
    input.type = "text";
    input.placeholder = "type a topic, a word of its description, or an intent";
    input.autocomplete = "off";
    input.spellcheck = false;
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", "tr-options");
    input.setAttribute("aria-expanded", "false");
    var list = el("ul", "tr-options");
    list.id = "tr-options";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    var found = [];
    var active = -1;

    function show() {
      found = input.value.trim() ? matches(input.value, entry.lang) : [];
      active = found.length ? 0 : -1;
      draw();
    }
    function draw() {
      clear(list);
      found.forEach(function (info, i) {
        var li = el("li", "tr-option");
        li.id = "tr-option-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", i === active ? "true" : "false");
        li.dataset.intent = info.intent;
        li.appendChild(el("div", "tr-option-title", title(info, entry.lang)));
        li.appendChild(el("div", "tr-mono", info.intent + " · " + ["en", "nb", "sv"].map(function (l) { return l + " " + ((info.examples || {})[l] || 0); }).join(" / ") + " examples"));
        if (info.description) li.appendChild(el("div", "tr-option-desc", info.description));
        li.addEventListener("mousedown", function (event) { event.preventDefault(); choose(info.intent); });
        list.appendChild(li);
      });
      list.hidden = !found.length;
      input.setAttribute("aria-expanded", found.length ? "true" : "false");
      if (active >= 0) {
        input.setAttribute("aria-activedescendant", "tr-option-" + active);
        var node = $("tr-option-" + active);
        if (node) node.scrollIntoView({block: "nearest"});
      } else input.removeAttribute("aria-activedescendant");
    }
    function choose(intent) {
      input.value = intent;
      found = [];
      draw();
      assign(entry, intent);
    }
    input.addEventListener("input", show);
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" && found.length) { active = (active + 1) % found.length; draw(); event.preventDefault(); }
      else if (event.key === "ArrowUp" && found.length) { active = (active - 1 + found.length) % found.length; draw(); event.preventDefault(); }
      else if (event.key === "Enter") {
        event.preventDefault();
        if (active >= 0 && found[active]) choose(found[active].intent);
        else if (input.value.trim()) choose(input.value.trim());
      } else if (event.key === "Escape") {
        event.preventDefault();
        input.value = "";
        found = [];
        draw();
        $("tr-list").focus();
      }
      event.stopPropagation();
    });
    input.addEventListener("blur", function () { setTimeout(function () { found = []; draw(); }, 100); });
    wrap.appendChild(input);
    wrap.appendChild(list);
    return wrap;
  }

  // ---- resolving an entry -----------------------------------------------------

  function acceptSuggestion() {
    var entry = current();
    if (!entry || entry.status !== "new") return;
    var suggestion = suggestionOf(entry);
    if (!suggestion) { banner("This entry has no suggestion: press a to choose an intent."); return; }
    assign(entry, suggestion);
  }

  function assign(entry, intent) { act(entry, "assign", {intent: intent}); }
  function resolve(action) {
    var entry = current();
    if (entry && entry.status === "new") act(entry, action);
  }

  function act(entry, action, body) {
    if (state.busy[entry.id]) return;
    state.busy[entry.id] = true;
    var index = state.entries.indexOf(entry);
    state.results[entry.id] = {pending: true, text: action === "assign" ? "Checking and writing…" : "Saving…"};
    if (index >= 0) replaceRow(index);
    renderDetailIf(entry);
    api("POST", "inbox/" + entry.id + "/" + action, body || {}).then(function (r) {
      delete state.busy[entry.id];
      var result;
      if (r.status === 200) {
        Object.assign(entry, r.data.entry);
        result = {ok: true, action: action, file: r.data.file, check: r.data.check};
      } else {
        result = {ok: false, error: r.data.error || "HTTP " + r.status, check: r.data.check};
        if (r.status === 409) refreshEntry(entry);
      }
      state.results[entry.id] = result;
      var at = state.entries.indexOf(entry);
      if (at >= 0) replaceRow(at);
      updateCounts();
      if (result.ok && current() === entry) {
        var next = nextNew(at);
        if (next >= 0) select(next); else renderDetail();
      } else renderDetailIf(entry);
    }).catch(function (error) {
      delete state.busy[entry.id];
      state.results[entry.id] = {ok: false, error: "not saved: the server could not be reached"};
      var at = state.entries.indexOf(entry);
      if (at >= 0) replaceRow(at);
      failed(error);
    });
  }

  function renderDetailIf(entry) { if (current() === entry) renderDetail(); }

  function refreshEntry(entry) {
    api("GET", "inbox/" + entry.id).then(function (r) {
      if (r.status !== 200) return;
      Object.assign(entry, r.data.entry);
      var at = state.entries.indexOf(entry);
      if (at >= 0) replaceRow(at);
      renderDetailIf(entry);
    }).catch(failed);
  }

  function verdictNode(result, full) {
    var box = el("div", "tr-verdict" + (result.ok === false ? " tr-refused" : ""));
    box.setAttribute("role", "status");
    if (result.pending) { box.textContent = result.text; return box; }
    if (!result.ok) {
      box.appendChild(el("div", null, "Not saved: " + result.error));
    } else if (result.action === "ignore") {
      box.appendChild(el("div", null, "Ignored."));
    } else {
      var check = result.check || {};
      box.appendChild(el("div", null, (result.action === "oos" ? "Added to the out-of-scope examples" : "Added as an example of " + check.intent) + (result.file ? " in " + result.file : "") + "."));
      if (check.already_understood) box.appendChild(el("div", null, "Already understood: the model gave it this intent with high confidence (it teaches little)."));
    }
    var check2 = result.check;
    if (check2 && full) {
      if (check2.prediction) {
        box.appendChild(el("div", "tr-muted", "Model now: " + check2.prediction.intent + " " + fmt(check2.prediction.confidence)));
      } else if (check2.prediction_note) box.appendChild(el("div", "tr-muted", check2.prediction_note));
      var names = Object.keys(check2.neighbours || {});
      names.forEach(function (name) {
        var near = check2.neighbours[name] || [];
        if (!near.length) return;
        box.appendChild(el("div", "tr-muted", "Nearest examples of " + name + ":"));
        var ul = el("ul");
        near.forEach(function (n) { ul.appendChild(el("li", null, n.text + " (" + fmt(n.cosine, 3) + ", " + n.file + ")")); });
        box.appendChild(ul);
      });
    }
    return box;
  }

  // ---- retrain ----------------------------------------------------------------

  function stopPolling() { clearTimeout(state.retrainTimer); state.retrainTimer = null; }

  function refreshRetrain() {
    stopPolling();
    return api("GET", "retrain").then(function (r) {
      if (r.status !== 200) return;
      renderRetrain(r.data);
      if (r.data.state === "running" || r.data.state === "running_elsewhere") {
        state.retrainTimer = setTimeout(refreshRetrain, POLL_MS);
      }
    }).catch(failed);
  }

  $("tr-retrain").addEventListener("click", function () {
    var force = $("tr-force").checked;
    $("tr-retrain").disabled = true;
    api("POST", "retrain", {force: force}).then(function (r) {
      if (r.status === 409) {
        renderRetrain(r.data.retrain || {}, "Not started: " + r.data.error);
        state.retrainTimer = setTimeout(refreshRetrain, POLL_MS);
        return;
      }
      if (r.status !== 202) { renderRetrain({}, r.data.error || "HTTP " + r.status); return; }
      refreshRetrain();
    }).catch(failed);
  });

  function renderRetrain(s, message) {
    var box = $("tr-retrain-status");
    clear(box);
    var running = s.state === "running" || s.state === "running_elsewhere";
    $("tr-retrain").disabled = running;
    $("tr-retrain").textContent = running ? "Retraining…" : "Retrain now";
    if (message) box.appendChild(el("p", "tr-error", message));
    if (s.state === "running_elsewhere") box.appendChild(el("p", null, "A retrain is running elsewhere (" + s.elsewhere + ")."));
    if (s.state === "idle" && !message) box.appendChild(el("p", "tr-muted", "No retrain started from this page since the server started."));
    if (s.steps && s.steps.length) {
      var head = s.state === "running" ? "Running for " + fmt(s.seconds, 0) + " s" :
        (s.state === "failed" ? "Failed after " : "Finished after ") + fmt(s.seconds, 0) + " s";
      box.appendChild(el("p", null, head));
      var ol = el("ol", "tr-steps");
      s.steps.forEach(function (step) { ol.appendChild(el("li", null, "+" + fmt(step.seconds, 0) + " s: " + step.text)); });
      box.appendChild(ol);
    }
    if (s.error) box.appendChild(el("p", "tr-outcome tr-bad", s.error));
    var o = s.outcome;
    if (o) {
      var text = {
        activated: "Live: " + o.model + " (passed the regression gate).",
        forced: "Live (forced past the gate): " + o.model + ".",
        refused: "Refused by the regression gate: the live model keeps serving.",
        unchanged: "Nothing to do: the live model was trained on these data."
      }[o.status] || o.status;
      box.appendChild(el("p", "tr-outcome " + (o.status === "refused" ? "tr-bad" : "tr-good"), text));
      if (typeof o.train_seconds === "number") box.appendChild(el("p", "tr-muted", "Trained in " + fmt(o.train_seconds, 1) + " s; held-out evaluation " + fmt(o.eval_seconds, 1) + " s."));
      if (o.verdict) {
        var ul = el("ul", "tr-steps");
        o.verdict.summary.forEach(function (line) { ul.appendChild(el("li", null, line)); });
        o.verdict.problems.forEach(function (p) {
          var li = el("li", "tr-error", "worse: " + p.what);
          if (p.examples.length) {
            var ex = el("ul");
            p.examples.forEach(function (e) { ex.appendChild(el("li", null, e)); });
            li.appendChild(ex);
          }
          ul.appendChild(li);
        });
        box.appendChild(ul);
      }
    }
  }

  // ---- the latest evaluation ----------------------------------------------------

  var plotUrl = null;
  function loadEvaluation() {
    var body = $("tr-eval-body");
    api("GET", "evaluation").then(function (r) {
      clear(body);
      if (r.status === 404) { body.appendChild(el("p", "tr-muted", r.data.error)); return; }
      if (r.status !== 200) { body.appendChild(el("p", "tr-error", r.data.error || "HTTP " + r.status)); return; }
      renderEvaluation(body, r.data);
      if (r.data.has_plot) loadPlot(body);
    }).catch(failed);
  }

  function delta(now, before) {
    if (typeof now !== "number" || typeof before !== "number") return null;
    var d = (now - before) * 100;
    return el("span", d > 0.05 ? "tr-delta-up" : d < -0.05 ? "tr-delta-down" : "tr-muted", " (" + (d >= 0 ? "+" : "") + d.toFixed(1) + ")");
  }

  function renderEvaluation(body, e) {
    body.appendChild(el("p", "tr-muted", "Model " + e.model + (e.created ? ", " + new Date(e.created * 1000).toLocaleString() : "") +
      (e.before ? "; change since the previous evaluation in points, in brackets" : "")));
    var table = el("table", "tr-table");
    var head = el("tr");
    ["language", "questions", "accuracy", "macro-F1", "OOS fallback"].forEach(function (h) { head.appendChild(el("th", null, h)); });
    table.appendChild(head);
    Object.keys(e.languages || {}).forEach(function (lang) {
      var row = el("tr");
      var f = e.languages[lang];
      var b = e.before && e.before.languages ? e.before.languages[lang] : null;
      row.appendChild(el("td", null, lang));
      row.appendChild(el("td", null, f.n));
      ["accuracy", "macro_f1", "oos_fallback"].forEach(function (k) {
        var td = el("td", null, fmt(f[k], 3));
        var d = b ? delta(f[k], b[k]) : null;
        if (d) td.appendChild(d);
        row.appendChild(td);
      });
      table.appendChild(row);
    });
    body.appendChild(table);
    body.appendChild(el("p", null, "Out-of-scope questions that fall back: " + fmt(e.oos_fallback, 3) +
      "; in-scope answered from a wrong topic: " + fmt(e.inscope_wrong_answer, 3) + "; in-scope falling back: " + fmt(e.inscope_fallback, 3) + "."));
    if (e.confusions && e.confusions.length) {
      body.appendChild(el("h3", null, "Most confused (gold → predicted)"));
      var ul = el("ul", "tr-steps");
      e.confusions.forEach(function (c) {
        var li = el("li", null, c.gold + " → " + c.predicted + ": " + c.count);
        if (c.examples && c.examples.length) li.appendChild(el("div", "tr-muted", c.examples[0]));
        ul.appendChild(li);
      });
      body.appendChild(ul);
    }
  }

  function loadPlot(body) {
    var headers = {Authorization: "Bearer " + state.token};
    fetch("api/evaluation/plot", {headers: headers, cache: "no-store", credentials: "omit"})
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.blob(); })
      .then(function (blob) {
        if (plotUrl) URL.revokeObjectURL(plotUrl);
        plotUrl = URL.createObjectURL(blob);
        var img = el("img", "tr-plot");
        img.alt = "Confusion matrix of the held-out questions (rows: the right intent, columns: the predicted one)";
        img.src = plotUrl;
        body.appendChild(img);
      })
      .catch(function (error) { body.appendChild(el("p", "tr-error", "The plot could not be loaded: " + error.message)); });
  }

  // ---- insights ---------------------------------------------------------------

  var LANGS = ["en", "nb", "sv"];
  var CHARTS = ["weeks", "topics", "answers", "thumbs_down", "services", "countries", "forms"];

  function pct(x) { return typeof x === "number" ? Math.round(x * 100) + " %" : "–"; }
  function perLang(values, format) {
    return LANGS.map(function (l) { return l + " " + (format ? format(values[l]) : values[l]); }).join(" · ");
  }

  function periodQuery() {
    var days = $("in-days").value;
    var params = new URLSearchParams();
    if (days) params.set("days", days);
    else {
      params.set("since", $("in-since").value);
      if ($("in-until").value) params.set("until", $("in-until").value);
    }
    return params.toString();
  }

  $("in-days").addEventListener("change", function () {
    var custom = !$("in-days").value;
    $("in-since").disabled = !custom;
    $("in-until").disabled = !custom;
    if (!custom) loadInsights();
  });
  $("in-period").addEventListener("submit", function (event) { event.preventDefault(); loadInsights(); });

  function loadInsights() {
    state.insightsLoaded = true;
    $("in-error").textContent = "";
    $("in-note").textContent = "Counting…";
    return api("GET", "insights?" + periodQuery()).then(function (r) {
      if (r.status !== 200) { $("in-error").textContent = r.data.error || "HTTP " + r.status; $("in-note").textContent = ""; return; }
      renderInsights(r.data);
    }).catch(failed);
  }

  function card(label, value, langs) {
    var box = el("div", "in-card");
    box.appendChild(el("div", "in-label", label));
    box.appendChild(el("div", "in-value", String(value)));
    if (langs) box.appendChild(el("div", "in-langs", langs));
    return box;
  }

  function chart(svgText) {
    var doc = new DOMParser().parseFromString(svgText, "image/svg+xml");
    var svg = doc.documentElement;
    if (!svg || svg.nodeName !== "svg" || doc.getElementsByTagName("parsererror").length) {
      return el("p", "tr-error", "This chart could not be drawn.");
    }
    return document.importNode(svg, true);
  }

  function row(cells, head) {
    var tr = el("tr");
    cells.forEach(function (c) {
      var cell = el(head ? "th" : "td");
      if (c instanceof Node) cell.appendChild(c); else cell.textContent = String(c);
      tr.appendChild(cell);
    });
    return tr;
  }

  function renderInsights(f) {
    $("in-note").textContent = f.period.since + " to " + f.period.until + " (UTC). Counts from 1 to " +
      (f.min_count - 1) + " are shown as “" + "< " + f.min_count + "”, and rates only where both counts are shown." +
      (f.summary && f.summary.behind ? " Still reading the conversations: about " + f.summary.behind +
        " events to go; show again in a moment." : "");
    var cards = $("in-cards");
    clear(cards);
    var down = f.feedback.down, up = f.feedback.up;
    cards.appendChild(card("Conversations", f.conversations.all, perLang(f.conversations)));
    cards.appendChild(card("Settled without a person", pct(f.rates.settled.all), perLang(f.rates.settled, pct)));
    cards.appendChild(card("Questions", f.questions.all, perLang(f.questions)));
    cards.appendChild(card("Questions that fell back", pct(f.rates.fallback.all), perLang(f.rates.fallback, pct)));
    cards.appendChild(card("Thumbs up / down", up.all + " / " + down.all, perLang(down) + " down"));
    cards.appendChild(card("Paid-service requests", f.requests.filed.all, perLang(f.requests.filed)));
    cards.appendChild(card("Offered a service, then asked", pct(f.rates.offered_then_filed.all),
      f.requests.offered_then_filed.all + " of " + f.requests.offered.all + " conversations"));
    var charts = $("in-charts");
    clear(charts);
    CHARTS.forEach(function (name) {
      if (!f.charts || !f.charts[name]) return;
      var box = el("section", "tr-card in-chart-card");
      var drawn = chart(f.charts[name]);
      box.appendChild(el("h2", null, drawn.getAttribute("aria-label") || ""));
      box.appendChild(drawn);
      charts.appendChild(box);
    });
    var topics = $("in-topics");
    clear(topics);
    topics.appendChild(row(["topic", "all", "en", "nb", "sv", "thumbs up", "down"], true));
    f.topics.forEach(function (t) {
      var link = el("a", null, (t.title && t.title.en) || t.topic);
      link.href = "#inbox?intent=" + encodeURIComponent(t.intent);
      topics.appendChild(row([link, t.answers.all, t.answers.en, t.answers.nb, t.answers.sv, t.up.all, t.down.all]));
    });
    if (!f.topics.length) topics.appendChild(row(["No topic answered in this period.", "", "", "", "", "", ""]));
    var req = $("in-requests");
    clear(req);
    req.appendChild(row(["", "all", "en", "nb", "sv"], true));
    var add = function (label, v) { req.appendChild(row([label, v.all, v.en, v.nb, v.sv])); };
    add("filed", f.requests.filed);
    Object.keys(f.requests.by_service).forEach(function (k) { add("service: " + k.replace(/_/g, " "), f.requests.by_service[k]); });
    Object.keys(f.requests.by_queue).forEach(function (k) { add("queue: " + k.replace(/_/g, " "), f.requests.by_queue[k]); });
    Object.keys(f.requests.by_country).forEach(function (k) { add("country: " + k, f.requests.by_country[k]); });
    add("conversations offered a service", f.requests.offered);
    add("… that then asked for it", f.requests.offered_then_filed);
    ["started", "filed", "cancelled", "abandoned", "in_progress"].forEach(function (k) { add("forms " + k.replace("_", " "), f.forms[k]); });
    Object.keys(f.forms.given_up_at).forEach(function (k) { add("gave up at " + k.replace(/^sr_/, ""), f.forms.given_up_at[k]); });
  }

  // ---- keyboard ---------------------------------------------------------------

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || (target && target.isContentEditable);
  }

  document.addEventListener("keydown", function (event) {
    if ($("tr-main").hidden || !$("tr-insights").hidden || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") { $("tr-keys-help").hidden = true; if (typing(event.target)) event.target.blur(); return; }
    if (typing(event.target)) return;
    if (event.target && event.target.tagName === "BUTTON" && (event.key === "Enter" || event.key === " ")) return;
    var handled = true;
    switch (event.key) {
      case "j": case "ArrowDown": move(1); break;
      case "k": case "ArrowUp": move(-1); break;
      case "Enter": acceptSuggestion(); break;
      case "i": resolve("ignore"); break;
      case "o": resolve("oos"); break;
      case "a": case "/": { var input = $("tr-assign"); if (input) input.focus(); break; }
      case "s": sync(false); break;
      case "?": $("tr-keys-help").hidden = !$("tr-keys-help").hidden; break;
      default: handled = false;
    }
    if (handled) event.preventDefault();
  });
  $("tr-keys").addEventListener("click", function () { $("tr-keys-help").hidden = !$("tr-keys-help").hidden; });

  start();
})();
