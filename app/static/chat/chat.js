/* Atendimentos: the agents' chat screen.
 *
 * Everything customers and agents typed (names, messages, file names) is put in the page as
 * text (textContent / text nodes), never as HTML. Strings come translated from the server in
 * the boot data. Which tickets are visible and which actions are allowed is decided by the
 * server: this script only shows what the endpoints return.
 */
(function () {
  "use strict";

  var boot = JSON.parse(document.getElementById("chat-boot").textContent);
  var T = boot.strings;
  var me = boot.user;
  var openedAt = Date.parse(boot.now);  // the server's clock: tickets created after it are new
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var EMOJI = ["😀", "😁", "😂", "🙂", "😉", "😊", "😍", "😘", "😎", "🤔", "😅", "😢", "😭", "😡", "😱", "🙏",
    "👍", "👎", "👏", "🙌", "👋", "🤝", "💪", "✌️", "❤️", "💙", "💚", "🎉", "✅", "❌", "⚠️", "⏰",
    "📞", "📎", "📄", "📷", "🚚", "💰", "⭐", "🔥"];

  var state = {
    tab: "open",
    queue: "",
    search: "",
    cursor: null,
    rows: new Map(),       // id -> ticket row shown in the list
    known: new Map(),      // id -> last ticket row heard of (any tab), for notifications
    current: null,         // the open ticket's row
    actions: [],
    channelsHeard: 0,     // `channel` events heard: a fetch started before one is older than it
    messages: new Map(),   // id -> message shown in the conversation
    firstId: null,
    lastId: null,
    quickReplies: [],
    quickIndex: 0,
    targets: null,
    listSeq: 0,
    heardDuringLoad: null, // id -> ticket row heard while the latest list page was loading
    drafts: new Map(),     // ticket id -> what the agent typed there and has not sent (one per conversation)
    dialogTicket: null,    // the ticket the open dialog (transfer, resolve, contact name) acts on
    everConnected: false
  };

  // ------------------------------------------------------------------ small helpers
  function $(id) { return document.getElementById(id); }

  function el(tag, props) {
    var node = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (key) {
        if (key === "text") node.textContent = props[key];
        else if (key === "class") node.className = props[key];
        else if (key === "dataset") Object.assign(node.dataset, props[key]);
        else node.setAttribute(key, props[key]);
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) continue;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function api(url, options) {
    options = options || {};
    var init = { method: options.method || "GET", credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (init.method !== "GET") init.headers["X-CSRFToken"] = csrf;
    if (options.form) {
      init.body = options.form;
    } else if (options.json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.json);
    }
    return fetch(url, init).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error(data.message || T.error);
          error.status = response.status;
          throw error;
        }
        return data;
      });
    }, function () {
      // Not "trying again": the socket reconnects by itself, a request is never sent again.
      var error = new Error(T.offline);
      error.status = 0;
      throw error;
    });
  }

  var tz = boot.settings.timezone || undefined;
  function fmt(options) {
    try { return new Intl.DateTimeFormat("pt-BR", Object.assign({ timeZone: tz }, options)); }
    catch (e) { return new Intl.DateTimeFormat("pt-BR", options); }
  }
  var fmtTime = fmt({ hour: "2-digit", minute: "2-digit" });
  var fmtDate = fmt({ day: "2-digit", month: "2-digit", year: "numeric" });
  var fmtDay = fmt({ weekday: "long", day: "2-digit", month: "long", year: "numeric" });

  function dayKey(date) { return fmtDate.format(date); }

  function shortWhen(iso) {
    if (!iso) return "";
    var date = new Date(iso);
    return dayKey(date) === dayKey(new Date()) ? fmtTime.format(date) : fmtDate.format(date);
  }

  function dayLabel(date) {
    var key = dayKey(date);
    if (key === dayKey(new Date())) return T.today;
    if (key === dayKey(new Date(Date.now() - 86400000))) return T.yesterday;
    return fmtDay.format(date);
  }

  // A Brazilian number as people write it: 5511987650002 -> +55 (11) 98765-0002; others as +digits.
  function phoneText(phone) {
    var digits = String(phone || "").replace(/\D/g, "");
    var br = /^55(\d\d)(\d{4,5})(\d{4})$/.exec(digits);
    if (br) return "+55 (" + br[1] + ") " + br[2] + "-" + br[3];
    return digits ? "+" + digits : "";
  }

  function contactName(row) {
    var name = row.contact.name, phone = row.contact.phone;
    if (!name || (phone && name === phone)) return phoneText(phone) || name || "—"; // named by the number
    return name;
  }

  function showError(node, message) {
    node.textContent = message || "";
    node.hidden = !message;
  }

  function banner(message, autoHide) {
    var node = $("chat-banner");
    showError(node, message);
    if (autoHide && message) setTimeout(function () { if (node.textContent === message) showError(node, ""); }, 3000);
  }

  function queueTag(node, queue) {
    node.textContent = queue ? queue.name : "";
    node.style.backgroundColor = queue ? queue.color : "";
  }

  // ------------------------------------------------------------------ ticket list
  function matchesList(row) {
    if (state.tab === "open" && !(row.status === "open" && row.user && row.user.id === me.id)) return false;
    if (state.tab === "pending" && row.status !== "pending") return false;
    if (state.tab === "closed" && row.status !== "closed") return false;
    if (state.queue === "none" && row.queue) return false;
    if (state.queue && state.queue !== "none" && !(row.queue && String(row.queue.id) === state.queue)) return false;
    return true;
  }

  function renderRow(row) {
    var time = el("span", { "class": "chat-ticket-time", text: shortWhen(row.last_message_at || row.updated_at) });
    var tag = el("span", { "class": "chat-queue-tag" });
    queueTag(tag, row.queue);
    var unread = row.unread_count > 0
      ? el("span", { "class": "chat-unread", "aria-hidden": "true", text: String(row.unread_count) }) : null;
    // The number the customer wrote to (Conexão), when the company has several.
    var connection = boot.several_connections && row.connection
      ? el("span", { "class": "chat-connection-tag", title: T.connection, text: row.connection.name }) : null;
    var name = contactName(row);
    // An option of the list box (keyboard: ticketListKeys). Named by the contact and the unread
    // count (the avatar's letter and the badge's bare number mean nothing read aloud); the last
    // message, queue and time describe it.
    var label = name + (row.unread_count > 0
      ? ", " + (row.unread_count === 1 ? T.unread_one : T.unread_many.replace("%(n)s", String(row.unread_count))) : "");
    var about = "chat-ticket-" + row.id + "-about";
    time.id = about + "-time";
    var li = el("li", { "class": "chat-ticket", role: "option", tabindex: "-1", "aria-label": label,
                        "aria-describedby": about + " " + time.id, dataset: { id: String(row.id), updated: row.updated_at || "" } },
      el("div", { "class": "chat-avatar", "aria-hidden": "true", text: name.charAt(0).toUpperCase() }),
      el("div", { "class": "chat-ticket-body" },
        el("div", { "class": "chat-ticket-line" }, el("span", { "class": "chat-ticket-name", text: name }), time),
        el("div", { "class": "chat-ticket-line", id: about },
          el("span", { "class": "chat-ticket-preview", text: row.last_message || "" }), connection, tag, unread)));
    li.style.borderLeftColor = row.queue ? row.queue.color : "transparent";
    markCurrent(li);
    li.addEventListener("click", function () { openTicket(row.id); });
    return li;
  }

  // The open ticket's row: highlighted, and aria-selected for screen readers.
  function markCurrent(li) {
    var rows = li ? [li] : $("chat-tickets").querySelectorAll(".chat-ticket");
    rows.forEach(function (item) {
      var current = !!state.current && Number(item.dataset.id) === state.current.id;
      item.classList.toggle("current", current);
      item.setAttribute("aria-selected", String(current));
    });
  }

  // ------------------------------------------------------------------ the list with the keyboard
  // The list is a list box with one Tab stop (a roving tabindex): the row last focused, else the
  // open ticket's, else the first. Arrows, Home and End move between rows; Enter or Space opens
  // one. Before, rows took only clicks and Tab went past the list: no conversation could be
  // opened without a mouse.
  var listFocusId = null; // the row the keyboard was on, focused again if a redraw replaced it

  function ticketRows() {
    return Array.from($("chat-tickets").querySelectorAll(".chat-ticket"));
  }

  function syncTabStops() {
    var rows = ticketRows();
    var stop = rows.find(function (r) { return Number(r.dataset.id) === listFocusId; }) ||
      rows.find(function (r) { return r.classList.contains("current"); }) || rows[0];
    rows.forEach(function (r) { r.tabIndex = r === stop ? 0 : -1; });
    // A row with focus was drawn again (an event, a new page of the list): the new one takes it.
    var lost = !document.activeElement || document.activeElement === document.body;
    if (lost && listFocusId !== null && stop && Number(stop.dataset.id) === listFocusId) stop.focus();
  }

  function ticketListKeys(event) {
    var row = event.target.closest(".chat-ticket");
    if (!row || event.altKey || event.ctrlKey || event.metaKey) return;
    var rows = ticketRows(), at = rows.indexOf(row), to = null;
    if (event.key === "ArrowDown") to = rows[at + 1];
    else if (event.key === "ArrowUp") to = rows[at - 1];
    else if (event.key === "Home") to = rows[0];
    else if (event.key === "End") to = rows[rows.length - 1];
    else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault(); // Space would scroll the list
      openTicket(Number(row.dataset.id)).then(function () {
        // On a phone-sized screen the list gave its place to the conversation: focus goes there.
        var focusLost = document.activeElement === row || document.activeElement === document.body;
        if (focusLost && !row.offsetParent) $("chat-back").focus();
      });
      return;
    } else return;
    event.preventDefault();
    if (to) to.focus();
  }

  function placeRow(row) {
    var list = $("chat-tickets");
    var old = list.querySelector('[data-id="' + row.id + '"]');
    if (!matchesList(row)) {
      if (old) old.remove();
      state.rows.delete(row.id);
      emptyListNote();
      return;
    }
    if (state.search && !old) return; // a live ticket is listed under a search only after a new search
    state.rows.set(row.id, row);
    var node = renderRow(row);
    if (old) old.remove();
    // Newest activity first, as the server orders it.
    var before = null;
    list.querySelectorAll(".chat-ticket").forEach(function (item) {
      if (before) return;
      var updated = item.dataset.updated, id = Number(item.dataset.id);
      if (updated < (row.updated_at || "") || (updated === row.updated_at && id < row.id)) before = item;
    });
    if (!before && state.cursor) { // older than everything loaded: it comes with "load more"
      state.rows.delete(row.id);
      emptyListNote();
      return;
    }
    list.insertBefore(node, before);
    emptyListNote();
  }

  function removeRow(id) {
    var node = $("chat-tickets").querySelector('[data-id="' + id + '"]');
    if (node) node.remove();
    state.rows.delete(id);
    emptyListNote();
  }

  function emptyListNote() {
    var list = $("chat-tickets");
    var note = list.querySelector(".chat-empty-list");
    var empty = !list.querySelector(".chat-ticket");
    if (empty && !note) {
      list.appendChild(el("li", { "class": "chat-empty-list", role: "option", "aria-disabled": "true", text: T.no_tickets }));
    }
    if (!empty && note) note.remove();
  }

  function setCounts(counts) {
    document.querySelectorAll("[data-count]").forEach(function (node) {
      var value = counts[node.dataset.count];
      node.textContent = value ? String(value) : "";
    });
  }

  function loadList(more) {
    var seq = ++state.listSeq;
    // Tickets heard of while the page is on its way: the answer may have been read before them.
    var heard = state.heardDuringLoad = new Map();
    var params = new URLSearchParams({ tab: state.tab });
    if (state.queue) params.set("queue", state.queue);
    if (state.search) params.set("q", state.search);
    if (more && state.cursor) params.set("cursor", state.cursor);
    return api("/chat/api/tickets?" + params.toString()).then(function (data) {
      if (seq !== state.listSeq) return; // a newer request (tab, filter, search) won
      var list = $("chat-tickets");
      if (!more) {
        list.textContent = "";
        state.rows.clear();
      }
      state.cursor = data.cursor;
      data.tickets.forEach(function (row) {
        if (state.rows.has(row.id)) return;
        state.rows.set(row.id, row);
        list.appendChild(renderRow(row));
        announceIfNew(row);
      });
      $("chat-more").hidden = !data.cursor;
      heard.forEach(function (row) { placeRow(row); });
      countsSeq++;
      setCounts(data.counts);
      if (heard.size) refreshCounts(); // the page's counts may be older than what was heard meanwhile
      emptyListNote();
      return true;
    }).catch(function (error) { banner(error.message); return false; });
  }

  var countsTimer = null, countsSeq = 0;
  function refreshCounts() {
    clearTimeout(countsTimer);
    countsTimer = setTimeout(function () {
      var seq = ++countsSeq;
      api("/chat/api/counts").then(function (data) {
        if (seq === countsSeq) setCounts(data.counts); // an older answer never overwrites a newer one
      }).catch(function () {});
    }, 300);
  }

  // ------------------------------------------------------------------ conversation
  function tick(message) {
    if (!message.from_me || message.type === "system") return null;
    var icons = { queued: "fa-regular fa-clock", sent: "fa-solid fa-check", delivered: "fa-solid fa-check-double",
      read: "fa-solid fa-check-double", failed: "fa-solid fa-triangle-exclamation" };
    var label = T["tick_" + message.status] || message.status;
    return el("span", { "class": "chat-tick " + message.status, title: label, "aria-label": label,
      "data-status": message.status }, el("i", { "class": icons[message.status] || "" }));
  }

  // A photo or video grows the conversation when it has loaded, after the view went to its end:
  // a member who was at the end (the latest message in view) stays there; one who had scrolled up
  // to read is left where she is.
  var atEnd = true;
  function keepAtEnd() {
    var scroller = $("chat-messages");
    if (atEnd) scroller.scrollTop = scroller.scrollHeight;
  }

  function mediaNode(message) {
    if (!message.media) return null;
    // The type, not its parameters: WhatsApp's voice notes are "audio/ogg; codecs=opus".
    var mime = (message.media.mime || "").split(";")[0].trim().toLowerCase();
    var media = {
      url: "/chat/media/" + message.id,
      name: message.media.name || "",
      kind: boot.inline.indexOf(mime) >= 0 ? mime.split("/")[0] : "file"
    };
    if (media.kind === "image") {
      var img = el("img", { src: media.url, alt: media.name || T.attachment, loading: "lazy" });
      img.addEventListener("load", keepAtEnd);
      return el("a", { href: media.url, target: "_blank", rel: "noopener" }, img);
    }
    if (media.kind === "audio") return el("audio", { src: media.url, controls: "", preload: "none" });
    if (media.kind === "video") {
      var video = el("video", { src: media.url, controls: "", preload: "metadata" });
      video.addEventListener("loadedmetadata", keepAtEnd);
      return video;
    }
    return el("a", { "class": "chat-file", href: media.url, download: media.name || "" },
      el("i", { "class": "fa fa-file" }), " ", media.name || T.download);
  }

  // Web addresses in a message open in a new tab, as on WhatsApp; only http(s) ones, and the
  // text stays text (text nodes, an anchor's href set from the matched address).
  var URL_RE = /\b(?:https?:\/\/|www\.)[^\s<>"']+/gi;
  function linkified(node, text) {
    var last = 0;
    text.replace(URL_RE, function (match, offset) {
      var url = match.replace(/[.,;:!?)\]}]+$/, ""); // the sentence's punctuation is not the address's
      if (offset > last) node.appendChild(document.createTextNode(text.slice(last, offset)));
      var href = /^www\./i.test(url) ? "http://" + url : url;
      node.appendChild(el("a", { href: href, target: "_blank", rel: "noopener noreferrer", text: url }));
      last = offset + url.length;
      return match;
    });
    if (last < text.length) node.appendChild(document.createTextNode(text.slice(last)));
    return node;
  }

  // When its author sent it: a customer's message that reached us late (the system was down, a
  // worker was restarting) shows the time the customer wrote it, as on the phone.
  function sentAt(message) {
    return new Date(message.sent_at || message.created_at);
  }

  // A list message (the chatbot menu with Tipo Chatbot = list): the customer got the text with a
  // button that opens these options; the agent sees them under the text, as the customer can.
  function listOptions(message) {
    var extra = message.extra;
    if (message.type !== "list" || !extra || !Array.isArray(extra.sections)) return null;
    var list = el("ul");
    extra.sections.forEach(function (section) {
      (section && Array.isArray(section.rows) ? section.rows : []).forEach(function (row) {
        if (row && row.title) list.appendChild(el("li", { text: String(row.title) }));
      });
    });
    return el("div", { "class": "chat-msg-options" },
      el("div", { "class": "chat-msg-options-button" }, el("i", { "class": "fa fa-list-ul" }), " " + (extra.button_text || "")),
      list);
  }

  // A location the customer shared (WhatsApp sends "latitude,longitude"): a link that opens it on
  // a map, as the phone shows it, with the coordinates.
  var COORDINATES = /^\s*(-?\d{1,2}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)\s*$/;
  function locationLink(message) {
    var found = message.type === "location" && COORDINATES.exec(message.body || "");
    if (!found) return null;
    var where = found[1] + "," + found[2];
    return el("div", { "class": "chat-msg-body" },
      el("a", { href: "https://www.google.com/maps/search/?api=1&query=" + encodeURIComponent(where),
                target: "_blank", rel: "noopener noreferrer" }, "📍 " + T.location),
      el("div", { "class": "chat-muted", text: where }));
  }

  function renderMessage(message) {
    if (message.type === "system" || message.type === "call") {
      var text = message.type === "call" && !message.body ? T.missed_call : message.body;
      return el("div", { "class": "chat-system", dataset: { id: String(message.id) } },
        el("span", { text: (message.type === "call" ? "📞 " : "") + text }));
    }
    var meta = el("div", { "class": "chat-msg-meta" }, fmtTime.format(sentAt(message)), tick(message));
    var node = el("div", { "class": "chat-msg " + (message.from_me ? "out" : "in"), dataset: { id: String(message.id) } },
      message.sender_name && (message.from_me || state.current && state.current.is_group)
        ? el("div", { "class": "chat-msg-sender", text: message.sender_name }) : null,
      mediaNode(message),
      locationLink(message) ||
        (message.body ? linkified(el("div", { "class": "chat-msg-body" }), message.body) : null),
      listOptions(message),
      meta);
    if (message.status === "failed") {
      if (message.error) node.appendChild(el("div", { "class": "chat-msg-error", text: message.error }));
      var retry = el("button", { type: "button", "class": "btn btn-link chat-retry", text: T.retry });
      retry.hidden = state.actions.indexOf("send") < 0; // as the composer: the server refuses it too
      retry.addEventListener("click", function () { retryMessage(message.id, retry); });
      meta.appendChild(retry);
    }
    return node;
  }

  function renderConversation() {
    var box = $("chat-message-list");
    box.textContent = "";
    var sorted = Array.from(state.messages.values()).sort(function (a, b) { return a.id - b.id; });
    var lastDay = null;
    sorted.forEach(function (message) {
      var date = sentAt(message);
      if (dayKey(date) !== lastDay) {
        lastDay = dayKey(date);
        box.appendChild(el("div", { "class": "chat-day", dataset: { day: lastDay } }, el("span", { text: dayLabel(date) })));
      }
      box.appendChild(renderMessage(message));
    });
    box.appendChild(el("div", { "class": "chat-msg-list-end" }));
  }

  function appendMessages(list) {
    var box = $("chat-message-list");
    var scroller = $("chat-messages");
    var atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    var end = box.querySelector(".chat-msg-list-end");
    list.forEach(function (message) {
      var existing = box.querySelector('[data-id="' + message.id + '"]');
      state.messages.set(message.id, message);
      if (existing) {
        existing.replaceWith(renderMessage(message));
        return;
      }
      var date = sentAt(message);
      var days = box.querySelectorAll(".chat-day");
      var lastDay = days.length ? days[days.length - 1].dataset.day : null;
      if (dayKey(date) !== lastDay) {
        box.insertBefore(el("div", { "class": "chat-day", dataset: { day: dayKey(date) } },
          el("span", { text: dayLabel(date) })), end);
      }
      box.insertBefore(renderMessage(message), end);
      if (state.lastId === null || message.id > state.lastId) state.lastId = message.id;
    });
    if (atBottom || list.some(function (m) { return m.from_me; })) scroller.scrollTop = scroller.scrollHeight;
  }

  function loadMessages() {
    var ticketId = state.current.id;
    return api("/chat/api/tickets/" + ticketId + "/messages").then(function (data) {
      if (!state.current || state.current.id !== ticketId) return;
      state.messages.clear();
      data.messages.forEach(function (m) { state.messages.set(m.id, m); });
      state.firstId = data.messages.length ? data.messages[0].id : null;
      state.lastId = data.messages.length ? data.messages[data.messages.length - 1].id : null;
      $("chat-older").hidden = !data.more;
      renderConversation();
      var scroller = $("chat-messages");
      scroller.scrollTop = scroller.scrollHeight;
      atEnd = true;
    });
  }

  function loadOlder() {
    if (!state.current || state.firstId === null) return;
    var ticketId = state.current.id;
    var scroller = $("chat-messages");
    var fromBottom = scroller.scrollHeight - scroller.scrollTop;
    api("/chat/api/tickets/" + ticketId + "/messages?before=" + state.firstId).then(function (data) {
      if (!state.current || state.current.id !== ticketId) return;
      data.messages.forEach(function (m) { state.messages.set(m.id, m); });
      if (data.messages.length) state.firstId = data.messages[0].id;
      $("chat-older").hidden = !data.more;
      renderConversation();
      scroller.scrollTop = scroller.scrollHeight - fromBottom;
    }).catch(function (error) { showError($("chat-error"), error.message); });
  }

  function loadNewer() {
    if (!state.current) return Promise.resolve();
    var ticketId = state.current.id;
    if (state.lastId === null) return loadMessages();
    return api("/chat/api/tickets/" + ticketId + "/messages?after=" + state.lastId).then(function (data) {
      if (!state.current || state.current.id !== ticketId) return;
      appendMessages(data.messages);
      if (data.more) return loadNewer();
    });
  }

  // The composer belongs to one conversation: what was typed for one customer is kept for that
  // conversation (as WhatsApp keeps drafts per chat) and never shown in another one's composer.
  // Drafts also outlive the page: kept in this tab's sessionStorage (per member), they come back
  // when the page loads again (the server reloads it when the member's queues or profile change;
  // F5), in the conversation they were typed for.
  var draftsKey = "conecta-drafts:" + me.id;

  function saveDrafts() {
    try { sessionStorage.setItem(draftsKey, JSON.stringify(Array.from(state.drafts.entries()))); }
    catch (e) { /* storage full or disabled: drafts live as long as the page */ }
  }

  function loadDrafts() {
    try {
      (JSON.parse(sessionStorage.getItem(draftsKey)) || []).forEach(function (pair) {
        if (Array.isArray(pair) && typeof pair[1] === "string" && pair[1]) state.drafts.set(Number(pair[0]), pair[1]);
      });
    } catch (e) { /* nothing kept */ }
  }

  function setDraft(ticketId, text) {
    if (text) state.drafts.set(ticketId, text);
    else state.drafts.delete(ticketId);
    saveDrafts();
  }

  function keepDraft() {
    if (!state.current) return;
    setDraft(state.current.id, $("chat-input").value);
  }

  function restoreDraft(ticketId) {
    $("chat-input").value = state.drafts.get(ticketId) || "";
    $("chat-input").style.height = ""; // sized again once the composer shows (hidden, it measures 0)
    $("chat-quick").hidden = true;
    $("chat-emoji-panel").hidden = true;
  }

  function showTicket(row, actions) {
    if (!state.current || state.current.id !== row.id) {
      keepDraft();
      restoreDraft(row.id);
      closeDialogs();
    }
    state.current = row;
    state.actions = actions;
    $("chat-empty").hidden = true;
    $("chat-conversation").hidden = false;
    $("chat").classList.add("viewing"); // on a phone-sized screen the conversation takes the place of the list
    var name = $("chat-contact-name");
    name.textContent = name.title = contactName(row) + (row.is_group ? " (" + T.group + ")" : ""); // cut with an ellipsis when long
    $("chat-contact-phone").textContent = row.is_group ? "" : phoneText(row.contact.phone);
    $("chat-contact-edit").hidden = row.is_group;
    queueTag($("chat-ticket-queue"), row.queue);
    var info = "#" + row.id + " · " + (row.status === "closed" && row.awaiting_rating ? T.awaiting_rating : T["status_" + row.status]);
    if (row.user) info += " · " + T.assigned_to + ": " + row.user.name;
    // The number the customer wrote to (its Conexão's name), as the guide has it on every ticket.
    var connectionTag = $("chat-ticket-connection");
    connectionTag.textContent = row.connection ? row.connection.name : "";
    connectionTag.title = T.connection;
    showConnectionDown();
    $("chat-ticket-info").textContent = $("chat-ticket-info").title = info;
    document.querySelectorAll("#chat-actions [data-action]").forEach(function (button) {
      button.hidden = actions.indexOf(button.dataset.action) < 0;
    });
    var canSend = actions.indexOf("send") >= 0;
    $("chat-composer").hidden = !canSend;
    document.querySelectorAll("#chat-message-list .chat-retry").forEach(function (b) { b.hidden = !canSend; });
    if (canSend) autoGrow();
    var closedNote = $("chat-composer-closed");
    closedNote.hidden = canSend;
    closedNote.textContent = canSend ? "" : composerNote(row, actions);
    markCurrent();
    syncTabStops();
  }

  // The number of the open conversation is down: what the agent sends waits (nothing is lost), and
  // the customer does not answer; said, so that nobody wonders why.
  var offline = new Set(boot.offline_connections);
  function showConnectionDown() {
    var row = state.current, note = $("chat-connection-down");
    var down = !!(row && row.connection && offline.has(row.connection.id));
    note.hidden = !down;
    note.textContent = down ? T.connection_down.replace("%(name)s", function () { return row.connection.name; }) : "";
  }

  // Why the member cannot write here, pointing only at a button the screen shows: "Aceite" when
  // Aceitar is there, "Reabra" when Reabrir is; else who may act (a group with Ações em Grupo off,
  // another agent's conversation).
  function composerNote(row, actions) {
    var may = function (action) { return actions.indexOf(action) >= 0; };
    if (row.status === "pending" && may("accept")) return T.accept_to_reply;
    if (row.status === "closed" && may("reopen")) return T.closed_reply;
    if (row.is_group && !me.staff && (row.status === "pending" || !boot.settings.group_actions)) return T.group_staff_only;
    if (row.status === "closed") return T.reopen_not_yours;
    if (row.status === "open" && row.user && row.user.id !== me.id) return T.handled_by_other;
    return T.cannot_reply;
  }

  // ------------------------------------------------------------------ browser history
  // Back and Forward (a phone's system Back too) move between the list and a conversation: the
  // address says which conversation is open (?ticket=N), the list's has none. Opening one from the
  // page pushes its entry on the list's; opening another while one is open REPLACES that entry
  // (decided: Back always goes to the list in one step, and going through dozens of conversations
  // does not pile up dozens of entries to go back through). So a conversation's entry (marked in
  // history.state) always sits on the list's: the page closing it (Voltar à lista, a ticket gone
  // from view) goes back one entry instead of adding the list's again. Reached by its address
  // (?ticket=N typed, a link), the list's entry is put under it first; after a reload the entry is
  // already ours. `how`: "history" when the browser moved (nothing to write), "address" on load.
  var CONVERSATION = "conecta-ticket";

  function onConversationEntry() {
    return !!(history.state && history.state.entry === CONVERSATION);
  }

  function addressTicket() {
    var wanted = new URLSearchParams(location.search).get("ticket");
    return wanted && /^\d+$/.test(wanted) ? Number(wanted) : null;
  }

  function rememberOpen(id, how) {
    var entry = { entry: CONVERSATION, id: id }, address = location.pathname + "?ticket=" + id;
    if (how === "history") return;
    if (onConversationEntry()) {
      history.replaceState(entry, "", address);
    } else if (how === "address") {
      history.replaceState(null, "", location.pathname);
      history.pushState(entry, "", address);
    } else {
      history.pushState(entry, "", address);
    }
  }

  function rememberClosed(how) {
    if (how === "history") return;
    if (onConversationEntry()) history.back(); // to the list's entry; its popstate finds nothing open
    else history.replaceState(null, "", location.pathname);
  }

  window.addEventListener("popstate", function () {
    var id = addressTicket();
    if (id === null) {
      if (state.current) closeConversation(null, "history");
    } else if (!state.current || state.current.id !== id) {
      openTicket(id, "history");
    }
  });

  // `goneId`: a conversation this page had open and may no longer see (transferred away, the
  // member's queue removed): what was typed there and not sent is handed back to copy, instead of
  // staying in sessionStorage under a ticket that will not open again.
  function closeConversation(message, how, goneId) {
    keepDraft();
    var leftover = goneId ? state.drafts.get(goneId) : null;
    if (goneId) setDraft(goneId, "");
    restoreDraft(null);
    closeDialogs();
    state.current = null;
    markCurrent();
    state.messages.clear();
    $("chat-conversation").hidden = true;
    $("chat").classList.remove("viewing");
    $("chat-empty").hidden = false;
    $("chat-empty").textContent = message || T.select_ticket;
    if (leftover) $("chat-empty").appendChild(leftoverNode(leftover));
    rememberClosed(how);
  }

  function leftoverNode(text) {
    var box = el("textarea", { "class": "form-control chat-leftover-text", rows: "4", readonly: "" });
    box.value = text;
    var copy = el("button", { type: "button", "class": "btn btn-default btn-sm chat-leftover-copy", text: T.copy_text });
    copy.addEventListener("click", function () {
      box.select();
      var copied = function () { copy.textContent = T.copied; };
      var byCommand = function () { if (document.execCommand("copy")) copied(); };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(copied, byCommand);
      else byCommand();
    });
    return el("div", { "class": "chat-leftover" }, el("p", { text: T.unsent_text }), box, copy);
  }

  function openTicket(id, how) {
    showError($("chat-error"), "");
    return api("/chat/api/tickets/" + id).then(function (data) {
      state.lastId = null;
      state.firstId = null;
      showTicket(data.ticket, data.actions);
      rememberOpen(id, how);
      socket.emit("open_ticket", { id: id });
      loadQuickReplies(id);
      return loadMessages();
    }).catch(function (error) {
      // Opened in this tab before (its entry, after a reload because the member's queues changed,
      // or Back/Forward): no longer visible to the member rather than never found.
      var hadIt = how === "history" || (how === "address" && onConversationEntry() && history.state.id === id);
      if (error.status === 404 && hadIt) closeConversation(T.ticket_gone, undefined, id);
      else if (error.status === 404) closeConversation(error.message);
      else banner(error.message);
    });
  }

  function refreshTicket(id) {
    var channelsHeard = state.channelsHeard;
    return api("/chat/api/tickets/" + id).then(function (data) {
      placeRow(data.ticket);
      // Its number's state as the server read it, unless a `channel` event came meanwhile (newer).
      var connection = data.ticket.connection;
      if (connection && typeof data.connection_offline === "boolean" && state.channelsHeard === channelsHeard) {
        if (data.connection_offline) offline.add(connection.id); else offline.delete(connection.id);
      }
      if (state.current && state.current.id === id) showTicket(data.ticket, data.actions);
      return data.ticket;
    }).catch(function (error) {
      if (error.status === 404) {
        removeRow(id);
        // The server says only "not found" (it never tells who may not see a ticket that it
        // exists); this page had it open, so it is gone from the member's sight.
        if (state.current && state.current.id === id) closeConversation(T.ticket_gone, undefined, id);
      }
      return null;
    });
  }

  // ------------------------------------------------------------------ composer
  function sendText(event) {
    if (event) event.preventDefault();
    var input = $("chat-input");
    var body = input.value;
    if (!state.current || !body.trim()) return;
    if (textLength(body) > boot.max_body) { showError($("chat-error"), T.message_too_long); return; }
    var ticketId = state.current.id;
    $("chat-send").disabled = true;
    // Cleared now, not when the server answers: the agent may already be typing the next message.
    input.value = "";
    setDraft(ticketId, "");
    autoGrow();
    api("/chat/api/tickets/" + ticketId + "/messages", { method: "POST", json: { body: body } })
      .then(function (data) {
        $("chat-emoji-panel").hidden = true;
        showError($("chat-error"), "");
        appendMessages([data.message]);
      })
      .catch(function (error) { giveBack(ticketId, body, error); })
      .then(function () { $("chat-send").disabled = false; input.focus(); });
  }

  function sendFile() {
    var picker = $("chat-file");
    var file = picker.files[0];
    picker.value = "";
    if (!file || !state.current) return;
    var ext = "." + (file.name.split(".").pop() || "").toLowerCase();
    if (file.name.indexOf(".") < 0 || boot.accept.split(",").indexOf(ext) < 0) {
      showError($("chat-error"), T.file_type);
      return;
    }
    if (file.size > boot.max_upload) { showError($("chat-error"), T.file_too_big); return; }
    // Seen before it goes (a wrong file cannot be taken back from the customer's phone), with
    // what was typed as its caption.
    state.pendingFile = file;
    $("chat-file-name").textContent = file.name;
    $("chat-file-size").textContent = "(" + Math.max(1, Math.round(file.size / 1024)) + " KB)";
    $("chat-file-caption").value = $("chat-input").value;
    showError($("chat-file-error"), "");
    openDialog($("chat-file-confirm"));
  }

  function submitFile(event) {
    event.preventDefault();
    var file = state.pendingFile, ticketId = state.dialogTicket;
    if (textLength($("chat-file-caption").value) > boot.max_body) { showError($("chat-file-error"), T.message_too_long); return; }
    state.pendingFile = null;
    $("chat-file-confirm").close();
    if (!file || !ticketId) return;
    var form = new FormData();
    form.append("file", file);
    var caption = $("chat-file-caption").value;
    form.append("body", caption);
    if (state.current && state.current.id === ticketId) $("chat-input").value = "";
    setDraft(ticketId, "");
    api("/chat/api/tickets/" + ticketId + "/messages", { method: "POST", form: form })
      .then(function (data) {
        showError($("chat-error"), "");
        appendMessages([data.message]);
      })
      .catch(function (error) { giveBack(ticketId, caption, error); });
  }

  // A message the server refused goes back to its own conversation's composer (nothing typed
  // there since), even when the agent has moved to another conversation meanwhile. One that never
  // reached the server says so: it is not sent again by itself, the agent sends it again.
  function giveBack(ticketId, text, error) {
    var message = error.status === 0 && text ? T.not_sent_offline : error.message;
    if (state.current && state.current.id === ticketId) {
      var input = $("chat-input");
      if (!input.value) { input.value = text; autoGrow(); keepDraft(); }
      showError($("chat-error"), message);
      return;
    }
    if (text && !state.drafts.get(ticketId)) setDraft(ticketId, text);
    banner(message, true);
  }

  // The server is reachable again: a note that only said it was not is stale (what failed stays
  // failed: a text given back is in its box, a refused action is done again by the agent).
  function clearOfflineErrors() {
    var node = $("chat-error");
    if (node.textContent === T.offline || node.textContent === T.not_sent_offline) showError(node, "");
  }

  // "Assinar": the member's own preference, kept on their profile by the server, which signs
  // their messages when it is on (the switch only shows and changes it).
  function setSignature() {
    var box = $("chat-sign");
    var wanted = box.checked;
    box.disabled = true;
    api("/chat/api/signature", { method: "POST", json: { on: wanted } })
      .then(function (data) { box.checked = data.on; showError($("chat-error"), ""); })
      .catch(function (error) { box.checked = !wanted; showError($("chat-error"), error.message); })
      .then(function () { box.disabled = false; });
  }

  function retryMessage(id, button) {
    button.disabled = true;
    api("/chat/api/messages/" + id + "/retry", { method: "POST" })
      .then(function (data) { appendMessages([data.message]); })
      .catch(function (error) { button.disabled = false; showError($("chat-error"), error.message); });
  }

  function autoGrow() {
    var input = $("chat-input");
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 140) + "px";
    countChars();
  }

  // Characters as the server counts them (outbound.MAX_BODY; an emoji is one, not two UTF-16 units).
  function textLength(text) { return Array.from(text).length; }

  // Near the limit the composer counts the characters, in red beyond it. A text longer than the
  // server takes is refused with a message when sent, whole: no maxlength cutting a paste short
  // without a word (QA: 5 412 characters pasted went out as 4 096, cut mid-word).
  var fmtNumber = new Intl.NumberFormat("pt-BR");
  function countChars() {
    var counter = $("chat-input-count"), length = textLength($("chat-input").value);
    var near = length >= boot.max_body * 0.9;
    counter.hidden = !near;
    counter.textContent = near ? T.length_count.replace("%(count)s", fmtNumber.format(length))
      .replace("%(max)s", fmtNumber.format(boot.max_body)) : "";
    counter.classList.toggle("over", length > boot.max_body);
  }

  // Without accents or case, as the server compares shortcuts ("/horario" finds "/horário").
  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function quickMatches() {
    var match = /^\/(\S*)$/.exec($("chat-input").value);
    if (!match) return [];
    var prefix = fold(match[1]);
    return state.quickReplies.filter(function (q) { return fold(q.shortcut).indexOf(prefix) === 0; });
  }

  function renderQuick() {
    var box = $("chat-quick");
    var matches = quickMatches();
    box.textContent = "";
    box.hidden = matches.length === 0;
    if (state.quickIndex >= matches.length) state.quickIndex = 0;
    matches.slice(0, 20).forEach(function (q, index) {
      var item = el("li", { "class": index === state.quickIndex ? "active" : "" },
        el("b", { text: "/" + q.shortcut }), q.message);
      item.addEventListener("mousedown", function (event) { event.preventDefault(); expandQuick(q); });
      box.appendChild(item);
    });
  }

  // The quick replies of the open ticket, their {{nome}}, {{atendente}}... filled in by the server.
  // The agent may have typed "/ola" before they arrive: the list is drawn again when they do.
  function loadQuickReplies(ticketId) {
    state.quickReplies = [];
    api("/chat/api/quick-replies?ticket=" + ticketId).then(function (data) {
      if (!state.current || state.current.id !== ticketId) return;
      state.quickReplies = data.quick_replies;
      renderQuick();
    }).catch(function () {});
  }

  function expandQuick(quick) {
    var input = $("chat-input");
    input.value = quick.message;
    $("chat-quick").hidden = true;
    autoGrow();
    keepDraft();
    input.focus();
  }

  function onComposerKey(event) {
    var quickOpen = !$("chat-quick").hidden;
    if (quickOpen && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      var count = Math.min(quickMatches().length, 20);
      state.quickIndex = (state.quickIndex + (event.key === "ArrowDown" ? 1 : count - 1)) % count;
      renderQuick();
      return;
    }
    if (quickOpen && (event.key === "Enter" || event.key === "Tab")) {
      event.preventDefault();
      expandQuick(quickMatches()[state.quickIndex]);
      return;
    }
    if (event.key === "Escape") { $("chat-quick").hidden = true; $("chat-emoji-panel").hidden = true; return; }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) sendText(event);
  }

  function insertAtCursor(text) {
    var input = $("chat-input");
    var start = input.selectionStart, end = input.selectionEnd;
    input.value = input.value.slice(0, start) + text + input.value.slice(end);
    input.selectionStart = input.selectionEnd = start + text.length;
    autoGrow();
    keepDraft();
    input.focus();
  }

  function buildEmojiPanel() {
    var panel = $("chat-emoji-panel");
    EMOJI.forEach(function (emoji) {
      var button = el("button", { type: "button", text: emoji });
      button.addEventListener("click", function () { insertAtCursor(emoji); });
      panel.appendChild(button);
    });
  }

  // ------------------------------------------------------------------ actions
  // `ticketId`: the conversation a dialog was opened for (the one on screen otherwise).
  function act(action, payload, ticketId) {
    var id = ticketId || (state.current && state.current.id);
    if (!id) return Promise.resolve();
    return api("/chat/api/tickets/" + id + "/" + action, { method: "POST", json: payload || {} }).then(function (data) {
      refreshCounts();
      var onScreen = state.current && state.current.id === id;
      if (!data.ticket) { // transferred out of this member's sight
        removeRow(id);
        if (onScreen) closeConversation(T.select_ticket);
        return data;
      }
      state.known.set(data.ticket.id, data.ticket); // my own action: its late event is no news to me
      placeRow(data.ticket);
      if (onScreen) {
        showTicket(data.ticket, data.actions);
        loadNewer().catch(function () {}); // the events bring them too
      }
      return data;
    });
  }

  // A dialog (transfer, resolve, contact name) acts on the conversation it was opened for, and
  // closes when another conversation takes the screen (a notification clicked, the ticket gone
  // from sight): its button never acts on a conversation the agent did not open it for.
  function openDialog(dialog) {
    state.dialogTicket = state.current && state.current.id;
    dialog.showModal();
  }

  function closeDialogs() {
    document.querySelectorAll("dialog.chat-dialog[open]").forEach(function (dialog) {
      if (dialog.id !== "chat-new-dialog") dialog.close();
    });
  }

  function openTransfer() {
    var dialog = $("chat-transfer");
    var ticketId = state.current && state.current.id;
    showError($("chat-transfer-error"), "");
    // Asked each time: queues and members may have been added, renamed or removed since.
    api("/chat/api/transfer-targets").then(function (targets) {
      if (!state.current || state.current.id !== ticketId) return; // another conversation meanwhile
      state.targets = targets;
      var queueSelect = $("chat-transfer-queue");
      queueSelect.length = 1;
      targets.queues.forEach(function (q) { queueSelect.appendChild(el("option", { value: String(q.id), text: q.name })); });
      fillTransferUsers();
      openDialog(dialog);
    }).catch(function (error) { banner(error.message, true); });
  }

  function fillTransferUsers() {
    var queueId = Number($("chat-transfer-queue").value) || null;
    var userSelect = $("chat-transfer-user");
    userSelect.length = 1;
    state.targets.users.forEach(function (u) {
      if (queueId && u.queue_ids.indexOf(queueId) < 0) return;
      userSelect.appendChild(el("option", { value: String(u.id), text: u.name }));
    });
  }

  function submitTransfer(event) {
    event.preventDefault();
    var queue = $("chat-transfer-queue").value, user = $("chat-transfer-user").value;
    if (!queue && !user) { showError($("chat-transfer-error"), T.choose_queue_or_user); return; }
    act("transfer", { queue: queue ? Number(queue) : null, user: user ? Number(user) : null }, state.dialogTicket)
      .then(function () { $("chat-transfer").close(); })
      .catch(function (error) { showError($("chat-transfer-error"), error.message); });
  }

  // The rating options are asked for each time: an admin may have changed them, or registered a
  // rating, since this page loaded.
  function openClose() {
    api("/chat/api/close-options").then(function (options) {
      Object.assign(boot.settings, options.rating_settings);
      boot.ratings = options.ratings;
      boot.default_rating = options.default_rating;
      showClose();
    }).catch(function (error) { showError($("chat-error"), error.message); });
  }

  function showClose() {
    // A group is not asked for a rating (tickets.close): resolved at once, as with ratings off.
    if ((!boot.settings.send_ratings && !boot.settings.rating_required) || (state.current && state.current.is_group)) {
      act("close").catch(function (error) { showError($("chat-error"), error.message); });
      return;
    }
    var dialog = $("chat-close");
    showError($("chat-close-error"), "");
    var templates = $("chat-close-templates");
    templates.textContent = "";
    boot.ratings.forEach(function (rating) {
      templates.appendChild(el("div", null, el("label", { class: "radio-inline" },
        el("input", { type: "radio", name: "rating", value: String(rating.id) }),
        " " + T.send_rating.replace("%(name)s", function () { return rating.name; }))));
    });
    var noRating = $("chat-close-no-rating-label");
    noRating.hidden = !!boot.settings.rating_required;
    // Avaliação Externa: the link replaces every rating message, so it is the one choice (and
    // needs no rating registered in Avaliações).
    var external = !!boot.settings.external_rating;
    $("chat-close-external").hidden = !external;
    $("chat-close-templates").hidden = external;
    var radios = dialog.querySelectorAll('input[name="rating"]');
    radios.forEach(function (r) { r.checked = false; });
    var preferred = !boot.settings.rating_required ? radios[0]
      : external ? dialog.querySelector('#chat-close-external input[name="rating"]')
      : dialog.querySelector('#chat-close-templates input[value="' + (boot.default_rating || "") + '"]') ||
        dialog.querySelector('#chat-close-templates input[name="rating"]');
    if (preferred) preferred.checked = true;
    openDialog(dialog);
  }

  function submitClose(event) {
    event.preventDefault();
    var chosen = $("chat-close").querySelector('input[name="rating"]:checked');
    var external = !!chosen && chosen.value === "external";
    var rating = chosen && chosen.value && !external ? Number(chosen.value) : null;
    if (boot.settings.rating_required && !rating && !external) {
      showError($("chat-close-error"), T.choose_rating);
      return;
    }
    act("close", external ? { with_rating: true } : { rating: rating }, state.dialogTicket)
      .then(function () { $("chat-close").close(); })
      .catch(function (error) { showError($("chat-close-error"), error.message); });
  }

  // ------------------------------------------------------------------ notifications
  var audio = null;
  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.35);
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.35);
    } catch (e) { /* no sound available */ }
  }

  function notify(title, body, ticketId) {
    beep();
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    var note = new Notification(title, { body: body, tag: "ticket-" + ticketId });
    note.onclick = function () { window.focus(); openTicket(ticketId); note.close(); };
  }

  function setupNotifyButton() {
    var button = $("chat-notify");
    if (!("Notification" in window) || Notification.permission !== "default") return;
    button.hidden = false;
    button.addEventListener("click", function () {
      Notification.requestPermission().then(function () { button.hidden = true; });
    });
  }

  // ------------------------------------------------------------------ real time
  var socket = io({ transports: ["websocket", "polling"] });

  // Back after a drop: fetch what happened meanwhile (the list, the counts and the whole visible
  // history of the open ticket, whose acks may have moved too), again later if the server is
  // still warming up.
  function refetchMissed(attempt) {
    var ticketId = state.current && state.current.id;
    Promise.all([
      loadList(false),
      ticketId ? refreshTicket(ticketId).then(function () {
        return state.current && state.current.id === ticketId
          ? loadMessages().then(function () { readOnScreen(ticketId); return true; }) : true;
      }) : true
    ]).catch(function () { return [false]; }).then(function (results) {
      if (results.indexOf(false) >= 0 && attempt < 8 && socket.connected) {
        setTimeout(function () { refetchMissed(attempt + 1); }, 1000 * (attempt + 1));
      }
    });
  }

  // The conversation on screen is read, as when it is opened: what came while the page heard
  // nothing (a network drop, its web process restarting or deaf to Redis) is shown by the fetch
  // but was never marked read (unread badge, no "seen" on WhatsApp). A tab in the background
  // reads it when the member comes back to it (visibilitychange).
  function readOnScreen(ticketId) {
    if (state.current && state.current.id === ticketId && !document.hidden) socket.emit("open_ticket", { id: ticketId });
  }

  socket.on("connect", function () {
    if (state.everConnected) {
      banner(T.reconnected, true);
      clearOfflineErrors();
      refetchMissed(0);
    } else {
      banner("");
    }
    state.everConnected = true;
  });
  socket.on("disconnect", function (reason) {
    // The server drops a member's sockets when what the member may see changed (queues,
    // profile, removal): the page starts again with the new access, or at the login.
    if (reason === "io server disconnect") { window.location.reload(); return; }
    banner(T.network_error);
  });
  socket.on("connect_error", function () { banner(T.network_error); });
  // The server lost Redis for a while and is back: events published meanwhile never came. Every
  // page of that web process hears it at once: each fetches within 3 s, not all in the same one.
  socket.on("resync", function () { setTimeout(function () { refetchMissed(0); }, Math.random() * 3000); });

  // `ticket` and `message` events reach only the rooms allowed to see them, with the same JSON
  // as the endpoints; the open ticket is fetched again for its allowed actions.
  socket.on("ticket", function (payload) {
    var row = payload && payload.ticket;
    if (!row || typeof row.id !== "number") return;
    var heardEarlier = state.known.get(row.id);
    // A late event: published before a change this page already knows of (the answer to its own
    // accept arrived first, say). It would put the ticket back as it was, and announce a waiting
    // ticket already accepted.
    if (heardEarlier && Date.parse(row.updated_at) < Date.parse(heardEarlier.updated_at)) return;
    var before = heardEarlier || state.rows.get(row.id);
    state.known.set(row.id, row);
    if (state.heardDuringLoad) state.heardDuringLoad.set(row.id, row);
    placeRow(row);
    if (state.current && state.current.id === row.id) refreshTicket(row.id);
    refreshCounts();
    // "Novo atendimento aguardando" rings for a ticket newly waiting in one of my queues: first heard
    // waiting there, or moved there (the chatbot menu answered, a transfer to the queue, a ticket
    // handed back). Not again for the one known waiting in that same queue (heard, or listed by
    // announceIfNew; merely being in state.rows is not enough, a list is read and redrawn at any
    // time). While the customer is still at the menu the ticket has no queue and rings for nobody:
    // the bot is talking, it rings once the queue is chosen (before, staff, who hear the ticket at
    // the menu, took "no queue" for "already waiting" and were never told). A ticket left with no
    // queue (a connection without queues) waits for Admins and Supervisors, who alone see it.
    var wasWaitingHere = heardEarlier && heardEarlier.status === "pending" &&
      waitingPlace(heardEarlier) !== null && waitingPlace(heardEarlier) === waitingPlace(row);
    if (waitingForMe(row) && !wasWaitingHere) notify(T.notify_pending, contactName(row), row.id);
    // Handed to me by someone else (a transfer to me): the ticket I accepted or reopened myself is
    // the one open on my screen.
    var mineBefore = before && before.status === "open" && before.user && before.user.id === me.id;
    var viewingIt = state.current && state.current.id === row.id && !document.hidden;
    if (row.status === "open" && row.user && row.user.id === me.id && !mineBefore && !viewingIt) {
      notify(T.notify_transferred, contactName(row), row.id);
    }
  });

  // A waiting ticket listed before any event of it was heard: known from now on (its later events
  // are no new arrival), and announced when it was created since the page opened (the list was read
  // between its commit and its event).
  function announceIfNew(row) {
    if (row.status !== "pending" || state.known.has(row.id)) return;
    state.known.set(row.id, row);
    if (waitingForMe(row) && Date.parse(row.created_at) >= openedAt) notify(T.notify_pending, contactName(row), row.id);
  }

  function inMyQueues(row) {
    return !!row.queue && me.queue_ids.indexOf(row.queue.id) >= 0;
  }

  // Where a waiting ticket waits: its queue's id, "none" when it has no queue and the bot is done
  // with it, null while the customer is still at the menu (waiting for no one yet).
  function waitingPlace(row) {
    if (row.queue) return row.queue.id;
    return row.awaiting_menu ? null : "none";
  }

  function waitingForMe(row) {
    if (row.status !== "pending") return false;
    var place = waitingPlace(row);
    return place === "none" ? !!me.staff : place !== null && inMyQueues(row);
  }

  socket.on("channel", function (payload) {
    if (!payload || typeof payload.id !== "number") return;
    state.channelsHeard += 1;
    if (payload.connected) offline.delete(payload.id); else offline.add(payload.id);
    showConnectionDown();
  });

  socket.on("ticket:removed", function (payload) {
    if (!payload || typeof payload.id !== "number") return;
    // The member may still see it through another room: ask the server.
    refreshTicket(payload.id);
    refreshCounts();
  });

  socket.on("message", function (payload) {
    var message = payload && payload.message;
    if (!message || typeof message.id !== "number") return;
    var ticketId = message.ticket_id;
    var viewing = state.current && state.current.id === ticketId;
    if (viewing) {
      if (state.messages.has(message.id) || state.lastId === null || message.id > state.lastId) {
        appendMessages([message]);
      }
      if (!message.from_me && !document.hidden) socket.emit("open_ticket", { id: ticketId });
    }
    var row = state.known.get(ticketId) || state.rows.get(ticketId);
    var inbound = !message.from_me && message.type !== "system";
    if (inbound && row && row.status === "open" && row.user && row.user.id === me.id && (document.hidden || !viewing)) {
      notify(T.notify_message + " · " + contactName(row), message.body || T.attachment, ticketId);
    }
  });

  // Back to a tab that was in the background: the conversation on screen is read now (what came
  // meanwhile was not marked read, the member was elsewhere): unread to zero and, with Confirmação
  // de Leitura on, the customer's messages read on WhatsApp.
  // The freshest word on the count is the last ticket event heard: the conversation's own copy is
  // fetched again after it, and that fetch may still be on its way.
  document.addEventListener("visibilitychange", function () {
    if (document.hidden || !state.current) return;
    var heard = state.known.get(state.current.id);
    if (!state.current.unread_count && !(heard && heard.unread_count)) return;
    socket.emit("open_ticket", { id: state.current.id });
  });

  // The member turned "Assinar" on or off on another screen of theirs (room user:<id> only).
  socket.on("signature", function (payload) {
    if (payload && typeof payload.on === "boolean") $("chat-sign").checked = payload.on;
  });

  // Accepted or reopened from Aguardando or Resolvidos: the ticket is now in Atendendo, and the list
  // goes there with it (the conversation stays open), as the agent goes on working on it.
  function followToAtendendo(data) {
    var ticket = data && data.ticket;
    if (!ticket || ticket.status !== "open" || !ticket.user || ticket.user.id !== me.id) return;
    if (state.tab !== "pending" && state.tab !== "closed") return;
    var tab = document.querySelector('.chat-tabs [data-tab="open"]');
    if (tab) chooseFilter(".chat-tabs [data-tab]", tab, function () { state.tab = "open"; });
  }

  // Nova conversa: the ticket opens (in Atendendo when it is the agent's), the composer ready.
  function openNew() {
    showError($("chat-new-error"), "");
    $("chat-new-form").reset();
    $("chat-new-dialog").showModal();
    $("chat-new-phone").focus();
  }

  function submitNew(event) {
    event.preventDefault();
    var queue = $("chat-new-queue");
    var payload = { phone: $("chat-new-phone").value, name: $("chat-new-name").value,
                    queue: queue && queue.value ? Number(queue.value) : null };
    var button = $("chat-new-form").querySelector('[type="submit"]');
    button.disabled = true;
    showError($("chat-new-error"), "");
    api("/chat/api/conversations", { method: "POST", json: payload }).then(function (data) {
      $("chat-new-dialog").close();
      refreshCounts();
      var mine = data.ticket.status === "open" && data.ticket.user && data.ticket.user.id === me.id;
      var tab = document.querySelector('.chat-tabs [data-tab="open"]');
      if (mine && state.tab !== "open" && state.tab !== "all" && tab) {
        chooseFilter(".chat-tabs [data-tab]", tab, function () { state.tab = "open"; });
      } else {
        placeRow(data.ticket);
      }
      return openTicket(data.ticket.id).then(function () { $("chat-input").focus(); });
    }).catch(function (error) { showError($("chat-new-error"), error.message); })
      .then(function () { button.disabled = false; });
  }

  // The contact's name as the team knows it (WhatsApp's name no longer replaces it).
  function openRename() {
    if (!state.current) return;
    showError($("chat-rename-error"), "");
    $("chat-rename-name").value = state.current.contact.name || "";
    openDialog($("chat-rename-dialog"));
    $("chat-rename-name").select();
  }

  function submitRename(event) {
    event.preventDefault();
    act("rename", { name: $("chat-rename-name").value }, state.dialogTicket)
      .then(function () { $("chat-rename-dialog").close(); })
      .catch(function (error) { showError($("chat-rename-error"), error.message); });
  }

  // ------------------------------------------------------------------ wiring
  // A tab or a queue chip: the clicked one alone is active, its filter applies, the list starts over.
  function chooseFilter(group, chosen, apply) {
    document.querySelectorAll(group).forEach(function (b) {
      b.classList.toggle("active", b === chosen);
      // Which one is chosen, for screen readers too (the class only shows it).
      b.setAttribute(b.getAttribute("role") === "tab" ? "aria-selected" : "aria-pressed", String(b === chosen));
    });
    apply();
    state.cursor = null;
    loadList(false);
  }
  document.querySelectorAll(".chat-tabs [data-tab]").forEach(function (button) {
    button.addEventListener("click", function () {
      chooseFilter(".chat-tabs [data-tab]", button, function () { state.tab = button.dataset.tab; });
    });
  });
  document.querySelectorAll("#chat-queue-filter [data-queue]").forEach(function (chip) {
    if (chip.dataset.color) chip.style.borderLeftColor = chip.dataset.color;
    chip.addEventListener("click", function () {
      chooseFilter("#chat-queue-filter .chat-chip", chip, function () { state.queue = chip.dataset.queue; });
    });
  });
  var searchTimer = null;
  $("chat-search").addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(function () {
      state.search = $("chat-search").value.trim();
      state.cursor = null;
      loadList(false);
    }, 300);
  });
  $("chat-more").addEventListener("click", function () { loadList(true); });
  // Scrolling to the end of the list loads the next page, as the button does.
  var loadingMore = false;
  $("chat-tickets").addEventListener("scroll", function () {
    var list = $("chat-tickets");
    if (loadingMore || !state.cursor || list.scrollHeight - list.scrollTop - list.clientHeight > 80) return;
    loadingMore = true;
    loadList(true).then(function () { loadingMore = false; });
  });
  $("chat-older").addEventListener("click", loadOlder);
  $("chat-messages").addEventListener("scroll", function () {
    var scroller = $("chat-messages");
    atEnd = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  });
  $("chat-back").addEventListener("click", function () {
    closeConversation();
    var stop = $("chat-tickets").querySelector('.chat-ticket[tabindex="0"]');
    if (stop) stop.focus(); // back where the keyboard was, the button is gone with the conversation
  });
  $("chat-tickets").addEventListener("keydown", ticketListKeys);
  $("chat-tickets").addEventListener("focusin", function (event) {
    var row = event.target.closest(".chat-ticket");
    if (row) { listFocusId = Number(row.dataset.id); syncTabStops(); }
  });
  $("chat-tickets").addEventListener("focusout", function (event) {
    var row = event.target;
    if (event.relatedTarget && $("chat-tickets").contains(event.relatedTarget)) return; // to another row
    // Focus left the list, unless the row was removed (Chromium says so just before it removes a
    // focused row drawn again; syncTabStops then gives the focus to the new one).
    Promise.resolve().then(function () { if (row.isConnected) listFocusId = null; });
  });
  // Every change of the list (a page read, a ticket event placing or removing a row) passes here.
  new MutationObserver(syncTabStops).observe($("chat-tickets"), { childList: true });
  $("chat-composer").addEventListener("submit", sendText);
  $("chat-input").addEventListener("keydown", onComposerKey);
  $("chat-input").addEventListener("input", function () { autoGrow(); renderQuick(); keepDraft(); });
  $("chat-input").addEventListener("blur", function () { $("chat-quick").hidden = true; });
  $("chat-file").addEventListener("change", sendFile);
  $("chat-sign").addEventListener("change", setSignature);
  $("chat-emoji").addEventListener("click", function () { $("chat-emoji-panel").hidden = !$("chat-emoji-panel").hidden; });
  buildEmojiPanel();

  document.querySelectorAll("#chat-actions [data-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      var action = button.dataset.action;
      showError($("chat-error"), "");
      if (action === "transfer") return openTransfer();
      if (action === "close") return openClose();
      button.disabled = true;
      act(action).then(followToAtendendo).catch(function (error) { showError($("chat-error"), error.message); })
        .then(function () { button.disabled = false; });
    });
  });
  $("chat-transfer-queue").addEventListener("change", fillTransferUsers);
  $("chat-transfer-form").addEventListener("submit", submitTransfer);
  $("chat-close-form").addEventListener("submit", submitClose);
  $("chat-file-form").addEventListener("submit", submitFile);
  $("chat-new").addEventListener("click", openNew);
  $("chat-contact-edit").addEventListener("click", openRename);
  $("chat-rename-form").addEventListener("submit", submitRename);
  $("chat-new-form").addEventListener("submit", submitNew);
  document.querySelectorAll(".chat-dialog [data-dismiss]").forEach(function (button) {
    button.addEventListener("click", function () { button.closest("dialog").close(); });
  });

  setupNotifyButton();
  loadDrafts();
  loadList(false);
  if (addressTicket() !== null) openTicket(addressTicket(), "address");
})();
