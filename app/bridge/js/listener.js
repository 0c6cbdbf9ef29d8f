// Conecta's listener: forwards WPP events to Python (binding `conectaEvent`) and exposes the few
// actions Python asks for (window.__conecta.call). Injected with add_init_script after wa-js.
// It touches WPP only through the names of window.__conectaContract (app/bridge/contract.py).
(() => {
  if (window.top !== window) return; // init scripts also run in iframes
  const contract = window.__conectaContract;
  if (!contract) return;

  function fn(name) {
    const path = contract.functions[name];
    if (!path) throw new Error('not in the contract: ' + name);
    let target = window.WPP, owner = null;
    for (const part of path.split('.')) {
      owner = target;
      target = target ? target[part] : undefined;
    }
    if (typeof target !== 'function') throw new Error('WPP.' + path + ' is missing');
    return target.bind(owner);
  }

  // Messages asked of WhatsApp at a time by `recent` (a chat's history is read in pages).
  const RECENT_PAGE = 50;

  function emit(type, data) {
    try {
      window.conectaEvent(Object.assign({type: type}, data || {}));
    } catch (e) { /* binding not there (page opened outside the bridge) */ }
  }

  const ser = (w) => (w == null ? null : typeof w === 'string' ? w : (w._serialized || String(w)));
  // A message's serialized key ("true_<chat>_<id>"), what getMessages' `id` option takes.
  const keyOf = (m) => (m.id && m.id._serialized ? m.id._serialized : String(m.id));
  // A message's own id, without the "true_<chat>_" wrapping of its serialized key.
  const bareId = (k) => {
    if (k == null) return null;
    if (typeof k === 'object' && k.id) return String(k.id);
    const parts = ser(k).split('_');
    return parts.length >= 3 ? parts[2] : parts[0];
  };

  async function phoneOf(jid) {
    // @lid senders hide the phone number: ask WhatsApp for the mapping.
    if (!jid || !jid.endsWith('@lid')) return null;
    try {
      const entry = await fn('lid_to_phone')(jid);
      return entry && entry.phoneNumber ? ser(entry.phoneNumber) : null;
    } catch (e) {
      return null;
    }
  }

  async function serMsg(m) {
    const key = m.id || {};
    const chat = ser(key.remote) || (key.fromMe ? ser(m.to) : ser(m.from));
    const isGroup = (chat || '').endsWith('@g.us') || !!m.isGroupMsg;
    const sender = isGroup ? ser(m.author) : chat;
    const list = m.listResponse || {};
    const out = {
      id: bareId(key), from_me: !!key.fromMe, type: m.type || 'chat',
      body: m.body || '', caption: m.caption || '', chat: chat, is_group: isGroup,
      sender: sender, from: ser(m.from), to: ser(m.to), t: m.t || null,
      notify_name: m.notifyName || (m.senderObj && m.senderObj.pushname) || '',
      chat_name: (m.chat && (m.chat.formattedTitle || m.chat.name)) || m.chatName || '',
      mimetype: m.mimetype || null, filename: m.filename || null,
      broadcast: !!m.broadcast || chat === 'status@broadcast',
      newsletter: (chat || '').endsWith('@newsletter'),
      selected_id: (list.singleSelectReply && list.singleSelectReply.selectedRowId) || m.selectedRowId || null,
      lat: m.lat || null, lng: m.lng || null,
    };
    out.sender_phone = await phoneOf(sender);
    out.chat_phone = isGroup ? null : await phoneOf(chat);
    return out;
  }

  async function blobToBase64(blob) {
    const buffer = new Uint8Array(await blob.arrayBuffer());
    let binary = '';
    for (let i = 0; i < buffer.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, buffer.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  async function qrText() {
    try {
      const code = await fn('get_qr')();
      return code ? (code.fullCode || null) : null;
    } catch (e) {
      return null;
    }
  }

  async function announceState() {
    if (fn('is_main_ready')()) {
      emit('ready', {me: ser(await Promise.resolve(fn('my_user_id')()))});
    } else if (fn('is_authenticated')()) {
      emit('authenticated');
    } else {
      const code = await qrText();
      if (code) emit('qr', {code: code});
    }
  }

  let attached = null;
  function attach() {
    const W = window.WPP;
    if (!W || !W.isReady || attached === W) return;
    attached = W;
    const on = fn('on');
    on('conn.auth_code_change', (code) => emit('qr', {code: code ? (code.fullCode || null) : null}));
    on('conn.authenticated', () => emit('authenticated'));
    on('conn.main_ready', async () => emit('ready', {me: ser(await Promise.resolve(fn('my_user_id')()))}));
    on('conn.logout', () => emit('logout'));
    on('conn.stream_mode_changed', (mode) => emit('stream', {mode: String(mode)}));
    on('chat.new_message', async (m) => {
      try {
        emit('message', {msg: await serMsg(m)});
      } catch (e) {
        emit('error', {where: 'new_message', error: String(e)});
      }
    });
    on('chat.msg_ack_change', (ev) => {
      for (const id of ev.ids || []) emit('ack', {id: bareId(id), ack: ev.ack, chat: ser(ev.chat)});
    });
    on('call.incoming_call', (call) => emit('call', {
      id: call.id, from: ser(call.sender || call.peerJid), is_group: !!call.isGroup,
      is_video: !!call.isVideo, t: call.offerTime || null,
    }));
    emit('attached');
    announceState();
  }
  setInterval(attach, 200);
  document.addEventListener('DOMContentLoaded', attach);

  // Actions Python calls with page.evaluate('([op, args]) => window.__conecta.call(op, args)').
  const actions = {
    state: async () => ({
      ready: !!(window.WPP && window.WPP.isReady) && fn('is_main_ready')(),
      authenticated: !!(window.WPP && window.WPP.isReady) && fn('is_authenticated')(),
      qr: window.WPP && window.WPP.isReady ? await qrText() : null,
    }),
    me: async () => ser(await Promise.resolve(fn('my_user_id')())),
    send_text: async (chat, body, opts) => {
      const r = await fn('send_text')(chat, body, Object.assign({linkPreview: false}, opts));
      return {id: bareId(r.id), ack: r.ack};
    },
    send_list: async (chat, list, opts) => {
      const r = await fn('send_list')(chat, Object.assign({}, list, opts));
      return {id: bareId(r.id), ack: r.ack};
    },
    send_file: async (chat, dataUrl, opts) => {
      const r = await fn('send_file')(chat, dataUrl, opts);
      return {id: bareId(r.id), ack: r.ack};
    },
    resolve: async (id) => {
      // The chat id WhatsApp has for a number (null: no WhatsApp); see BridgeSession.resolve_chat.
      const found = await fn('query_exists')(id);
      return found && found.wid ? ser(found.wid) : null;
    },
    exists: async (id) => {
      try {
        const m = await fn('get_message')(id);
        return !!m;
      } catch (e) {
        return false;
      }
    },
    acks: async (keys) => {
      // Where our sent messages stand (their ack), by serialized key; those the page does not
      // have are left out (BridgeSession.acks).
      const out = [];
      for (const k of keys) {
        try {
          const m = await fn('get_message')(k);
          if (m && m.ack != null) out.push({id: bareId(m.id), ack: m.ack});
        } catch (e) { /* not on this page */ }
      }
      return out;
    },
    mark_read: async (chat) => {
      await fn('mark_read')(chat);
      return true;
    },
    reject_call: async (id) => !!(await fn('reject_call')(id)),
    download: async (id, limit) => {
      const blob = await fn('download_media')(id);
      // A file over the bridge's limit is not turned into base64 nor sent to Python at all (a
      // customer's 2 GB video would be 2.7 GB of text in the page and in the bridge process).
      if (limit && blob.size > limit) return {too_big: true, size: blob.size, mime: blob.type || null};
      return {data: await blobToBase64(blob), mime: blob.type || null};
    },
    unread: async (onlyChat) => {
      const out = [];
      const chats = await fn('list_chats')({onlyWithUnreadMessage: true});
      for (const chat of chats) {
        if (onlyChat && ser(chat.id) !== onlyChat) continue;
        const count = Math.max(chat.unreadCount || 0, 1);
        const msgs = await fn('get_messages')(ser(chat.id), {count: count, onlyUnread: true});
        for (const m of msgs) out.push(await serMsg(m));
      }
      return out;
    },
    history: async (chat, count, before) => {
      // One chat's messages, ours too, oldest first: its last `count`, or the `count` before the
      // message whose key is `before` (BridgeSession.messages_after_known). No chat list read.
      const opts = before ? {count: count, direction: 'before', id: before} : {count: count};
      const out = [];
      for (const m of await fn('get_messages')(chat, opts)) {
        const s = await serMsg(m);
        s.key = keyOf(m);
        out.push(s);
      }
      return out;
    },
    recent: async (since, limit) => {
      // Customers' messages stamped `since` (WhatsApp's clock, seconds) or later, in every chat
      // active since then, read or not: the catch-up of BridgeSession.recent_messages. At most
      // `limit` per chat, the newest ones; oldest first.
      const out = [];
      const chats = await fn('list_chats')({});
      for (const chat of chats) {
        if (!chat.t || chat.t < since) continue;
        const idOf = keyOf;
        const ids = new Set();
        let msgs = [];
        let before = null;
        for (;;) {
          const opts = before ? {count: RECENT_PAGE, direction: 'before', id: before} : {count: RECENT_PAGE};
          const page = await fn('get_messages')(ser(chat.id), opts);
          // Each page oldest first, and before the newer pages already read.
          const fresh = page.filter((m) => (m.t || 0) >= since && !ids.has(idOf(m)))
            .sort((a, b) => (a.t || 0) - (b.t || 0));
          for (const m of fresh) ids.add(idOf(m));
          msgs = fresh.filter((m) => !(m.id && m.id.fromMe)).concat(msgs);
          // A short page, one reaching older messages, or one with nothing new is the last.
          if (page.length < RECENT_PAGE || fresh.length < page.length || msgs.length >= limit) break;
          before = idOf(fresh[0]);
        }
        msgs = msgs.slice(-limit);
        for (const m of msgs) out.push(await serMsg(m));
      }
      return out;
    },
    logout: async () => !!(await fn('logout')()),
  };
  window.__conecta = {
    call: async (op, args) => {
      if (!actions[op]) throw new Error('unknown action ' + op);
      return actions[op].apply(null, args || []);
    },
  };
})();
