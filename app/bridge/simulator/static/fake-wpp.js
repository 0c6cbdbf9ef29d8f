// The simulator's fake WPP: the functions and events of app/bridge/contract.py, backed by the
// simulated network (/simulator/web/api/*). It reproduces WhatsApp Web's traps: encrypted
// messages emitted twice (ciphertext first), status broadcasts and newsletters, echoes of our own
// sends, @lid senders, QR rotation, and pairing kept in this browser profile (localStorage).
(() => {
  const STORE = 'conecta-sim-pairing';
  // While its server is unreachable WhatsApp Web keeps a message waiting (the clock icon) instead
  // of refusing it: a send waits this long for the network to come back before it fails.
  const SEND_PATIENCE_MS = 20000;
  const api = async (op, body, patience) => {
    const deadline = Date.now() + (patience || 0);
    for (let attempt = 1; ; attempt++) {
      let r;
      try {
        r = await fetch('/simulator/web/api/' + op, {
          method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body || {}),
        });
      } catch (e) { // the network, not the server, failed
        if (Date.now() >= deadline) throw e;
        await new Promise((done) => setTimeout(done, 300));
        continue;
      }
      const data = await r.json().catch(() => ({}));
      if (!r.ok) {
        const error = new Error(data.message || ('HTTP ' + r.status));
        error.status = r.status;
        error.retried = attempt > 1;
        throw error;
      }
      return data;
    }
  };
  const load = () => { try { return JSON.parse(localStorage.getItem(STORE)) || {}; } catch (e) { return {}; } };
  const save = (s) => localStorage.setItem(STORE, JSON.stringify(s));
  let pairing = load();
  if (!pairing.device) {
    pairing.device = 'dev-' + Math.random().toString(36).slice(2) + Date.now().toString(36);
    save(pairing);
  }
  const auth = () => ({phone: pairing.phone, token: pairing.token});

  // --- events ---
  const handlers = {};
  const on = (name, fn) => { (handlers[name] = handlers[name] || []).push(fn); };
  const emit = (name, arg) => {
    for (const fn of handlers[name] || []) {
      try { fn(arg); } catch (e) { console.error(e); }
    }
  };

  const wid = (s) => s == null ? null : ({
    _serialized: s, user: s.split('@')[0], server: s.split('@')[1], toString() { return s; },
  });
  const key = (fromMe, remote, id) => ({
    fromMe: fromMe, remote: wid(remote), id: id, _serialized: (fromMe ? 'true_' : 'false_') + remote + '_' + id,
    toString() { return this._serialized; },
  });
  const model = (m) => ({
    id: key(!!m.from_me, m.chat, m.id), type: m.type, body: m.body || '', caption: m.caption || '',
    from: wid(m.from_me ? (pairing.phone + '@c.us') : m.chat), to: wid(m.from_me ? m.chat : m.to),
    author: wid(m.author), t: m.t, notifyName: m.notifyName || '', isNewMsg: true,
    isGroupMsg: (m.chat || '').endsWith('@g.us'), chatName: m.chatName || '',
    mimetype: m.mimetype || null, filename: m.filename || null, ack: m.ack == null ? null : m.ack,
  });

  // --- connection state ---
  let state = pairing.token ? 'RESUMING' : 'LOADING';
  let qr = null;
  let ready = false;
  const show = () => {
    const status = document.getElementById('sim-status');
    const img = document.getElementById('sim-qr');
    const text = document.getElementById('sim-qr-text');
    if (!status) return;
    const text_ = document.getElementById('sim-web').dataset;
    if (ready) {
      status.textContent = text_.connected + ' +' + pairing.phone;
      img.hidden = text.hidden = true;
    } else if (qr) {
      status.textContent = text_.scan;
      img.src = '/simulator/qr.png?code=' + encodeURIComponent(qr);
      text.textContent = qr;
      img.hidden = text.hidden = false;
    } else {
      status.textContent = pairing.token ? text_.connecting : text_.loading;
    }
  };

  const becomeReady = () => {
    if (ready) return;
    emit('conn.authenticated');
    setTimeout(() => {
      ready = true;
      show();
      emit('conn.main_ready');
      // What a real account syncs on start: somebody's status and a channel post. Never tickets.
      const now = Math.floor(Date.now() / 1000);
      emit('chat.new_message', model({id: 'STATUS' + now, chat: 'status@broadcast', type: 'chat',
        body: 'status de um contato', author: '5511900000001@c.us', t: now}));
      emit('chat.new_message', model({id: 'NEWS' + now, chat: '120363000000000001@newsletter', type: 'chat',
        body: 'post de um canal', t: now}));
    }, 300);
  };

  const loggedOut = () => {
    const device = pairing.device;
    pairing = {device: device};
    save(pairing);
    ready = false;
    qr = null;
    state = 'LOADING';
    show();
    emit('conn.logout');
  };

  const deliver = (ev) => {
    if (ev.kind === 'call') {
      emit('call.incoming_call', {id: ev.id, isGroup: false, isVideo: false, offerTime: ev.t,
        sender: wid(ev.from), peerJid: wid(ev.from)});
      return;
    }
    // Encrypted first, then decrypted: the same message id twice.
    emit('chat.new_message', model(Object.assign({}, ev, {type: 'ciphertext', body: ''})));
    setTimeout(() => emit('chat.new_message', model(ev)), 30);
  };

  let polling = false;
  const poll = async () => {
    if (polling) return;
    polling = true;
    try {
      const r = await api('poll', Object.assign({device: pairing.device}, auth()));
      if (r.state === 'QRCODE') {
        if (r.qr !== qr) {
          qr = r.qr;
          show();
          emit('conn.auth_code_change', {type: 'multidevice', ref: qr.split(',')[0], fullCode: qr});
        }
      } else if (r.state === 'PAIRED') {
        pairing.phone = r.phone;
        pairing.token = r.token;
        save(pairing);
        qr = null;
        emit('conn.auth_code_change', null);
        becomeReady();
      } else if (r.state === 'CONNECTED') {
        becomeReady();
        for (const ev of r.events || []) deliver(ev);
      } else if (r.state === 'LOGGED_OUT') {
        loggedOut();
      }
      state = r.state;
    } catch (e) {
      console.warn('simulator poll failed', e);
    } finally {
      polling = false;
    }
  };
  setInterval(poll, 300);
  poll();

  // --- the contract ---
  const requireReady = () => { if (!ready) throw new Error('not connected'); };
  let sent = 0;
  const afterSend = (m) => {
    // WhatsApp echoes our own sends as new messages, then reports acks.
    const msg = model(Object.assign({}, m, {type: m.type === 'text' ? 'chat' : m.type}));
    emit('chat.new_message', msg);
    setTimeout(() => emit('chat.msg_ack_change', {ack: 1, chat: wid(m.chat), ids: [msg.id]}), 50);
    setTimeout(() => emit('chat.msg_ack_change', {ack: 2, chat: wid(m.chat), ids: [msg.id]}), 250);
    return {id: msg.id, ack: 0, from: pairing.phone + '@c.us', to: m.chat};
  };
  const messageIdOf = (opts) => {
    const id = opts && opts.messageId;
    return id == null ? null : (typeof id === 'string' ? id : id.id);
  };
  const send = async (chat, kind, body, opts, extra) => {
    requireReady();
    sent += 1;
    const id = messageIdOf(opts);
    let m;
    try {
      m = await api('send', Object.assign({chat: String(chat), kind: kind, body: body, id: id,
        mark_read: !opts || opts.markIsRead !== false, extra: extra}, auth()), SEND_PATIENCE_MS);
    } catch (e) {
      // The network failed after the server had taken it: the retry finds it there, sent once.
      if (!(e.status === 409 && e.retried && id)) throw e;
      m = (await api('message', Object.assign({id: id}, auth()))).message;
      if (!m) throw e;
    }
    return afterSend(m);
  };
  const dataUrlMime = (s) => (typeof s === 'string' && s.startsWith('data:')) ? s.slice(5, s.indexOf(';')) : null;

  window.WPP = {
    isReady: true,
    isFullReady: true,
    simulator: true,
    on: on,
    conn: {
      getAuthCode: async () => (qr ? {type: 'multidevice', ref: qr.split(',')[0], fullCode: qr} : null),
      isAuthenticated: () => !!pairing.token,
      isMainReady: () => ready,
      getMyUserId: () => (ready ? wid(pairing.phone + '@c.us') : undefined),
      logout: async () => {
        if (pairing.token) await api('logout', auth()).catch(() => null);
        loggedOut();
        return true;
      },
    },
    chat: {
      sendTextMessage: (chat, content, opts) => send(chat, 'text', String(content), opts),
      sendListMessage: (chat, opts) => send(chat, 'list', opts.description || '', opts,
        {sections: opts.sections || [], title: opts.title || null, buttonText: opts.buttonText || null}),
      sendFileMessage: (chat, content, opts) => {
        const kind = ['image', 'audio', 'video', 'document', 'sticker'].includes(opts && opts.type) ? opts.type : 'document';
        return send(chat, kind, (opts && opts.caption) || '', opts,
          {filename: (opts && opts.filename) || null, mimetype: (opts && opts.mimetype) || dataUrlMime(content)});
      },
      markIsRead: async (chat) => {
        requireReady();
        await api('read', Object.assign({chat: String(chat)}, auth()));
        return {wid: wid(String(chat)), unreadCount: 0};
      },
      downloadMedia: async (id) => {
        requireReady();
        const bare = typeof id === 'string' && id.includes('_') ? id.split('_')[2] : String(id);
        const m = await api('media', Object.assign({id: bare}, auth()));
        const bytes = Uint8Array.from(atob(m.data || ''), (c) => c.charCodeAt(0));
        return new Blob([bytes], {type: m.mime || 'application/octet-stream'});
      },
      getMessageById: async (id) => {
        requireReady();
        const bare = typeof id === 'string' && id.includes('_') ? id.split('_')[2] : String(id);
        const r = await api('message', Object.assign({id: bare}, auth()));
        if (!r.message) throw new Error('msg_not_found');
        return model(r.message);
      },
      list: async (opts) => {
        requireReady();
        const chats = await api('chats', auth());
        return chats.filter((c) => c.unreadCount > 0 || !(opts && opts.onlyWithUnreadMessage))
          .map((c) => ({id: wid(c.id), unreadCount: c.unreadCount, t: c.t}));
      },
      getMessages: async (chat, opts) => {
        // Oldest first, as WhatsApp's: the last `count` (-1: all), of the unread only with
        // onlyUnread, or the `count` before the message `id` with direction 'before'.
        requireReady();
        opts = opts || {};
        // Read from the network each time, as WhatsApp's collection is always current (a copy
        // kept from an earlier chat list hid messages that arrived since).
        let msgs = (await api('chat', Object.assign({chat: String(chat)}, auth()))).messages;
        if (opts.onlyUnread) msgs = msgs.filter((m) => m.unread);
        if (opts.id && opts.direction === 'before') {
          const at = msgs.findIndex((m) => key(!!m.from_me, m.chat, m.id)._serialized === String(opts.id));
          msgs = at < 0 ? [] : msgs.slice(0, at);
        }
        const count = opts.count > 0 ? opts.count : msgs.length;
        return msgs.slice(-count).map(model);
      },
    },
    call: {
      reject: async (id) => {
        requireReady();
        return (await api('reject_call', Object.assign({id: String(id)}, auth()))).ok;
      },
    },
    contact: {
      getPnLidEntry: async (id) => {
        requireReady();
        const r = await api('lid', Object.assign({lid: String(id)}, auth()));
        return {lid: wid(String(id)), phoneNumber: r.phone ? wid(r.phone) : undefined};
      },
      queryExists: async (id) => {
        requireReady();
        const r = await api('exists', Object.assign({chat: String(id)}, auth()));
        return r.wid ? {wid: wid(r.wid), biz: false} : null;
      },
    },
  };
  document.addEventListener('DOMContentLoaded', show);
})();
