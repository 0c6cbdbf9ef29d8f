// The "celular virtual": scan the QR code of a simulated WhatsApp Web page and chat as a customer.
// Everything typed is shown with textContent (never as HTML).
(() => {
  const root = document.getElementById('sim-phone');
  const t = root.dataset;
  const $ = (id) => document.getElementById(id);
  const api = async (method, path, body) => {
    const r = await fetch('/simulator/api/' + path, {method: method, headers: {'Content-Type': 'application/json'},
      body: body ? JSON.stringify(body) : undefined});
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.message || ('HTTP ' + r.status));
    return data;
  };
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  };

  async function refreshSessions() {
    const list = $('sessions');
    let sessions = [];
    try { sessions = (await api('GET', 'sessions')).filter((s) => s.state === 'QRCODE'); } catch (e) { return; }
    list.replaceChildren();
    if (!sessions.length) list.appendChild(el('li', 'muted', t.noSessions));
    for (const s of sessions) {
      const li = el('li');
      const img = el('img');
      img.src = '/simulator/qr.png?code=' + encodeURIComponent(s.qr);
      img.alt = 'QR';
      img.width = 120;
      const button = el('button', null, t.scan);
      button.addEventListener('click', async () => {
        try {
          await api('POST', 'scan', {qr: s.qr, phone: $('company').value});
          $('scan-result').textContent = t.scanned;
        } catch (e) {
          $('scan-result').textContent = e.message;
        }
        refreshSessions();
      });
      li.append(img, button);
      list.appendChild(li);
    }
  }

  const mine = [];
  async function refreshChat() {
    const customer = $('customer').value.replace(/\D/g, '');
    if (!customer) return;
    let log = [];
    try { log = await api('GET', 'log?phone=' + encodeURIComponent(customer)); } catch (e) { return; }
    const items = log.map((e) => ({at: e.at, out: true, entry: e}))
      .concat(mine.filter((m) => m.customer === customer).map((m) => ({at: m.at, out: false, entry: m})));
    items.sort((a, b) => a.at - b.at);
    const chat = $('chat');
    const atBottom = chat.scrollTop + chat.clientHeight >= chat.scrollHeight - 10;
    chat.replaceChildren();
    for (const item of items) {
      const e = item.entry;
      const bubble = el('div', 'bubble ' + (item.out ? 'in' : 'out'));
      if (!item.out) {
        bubble.appendChild(el('div', null, e.body));
      } else if (e.type === 'seen' || e.type === 'call_rejected') {
        bubble.appendChild(el('div', 'meta', '+' + e.from + ' ' + (e.type === 'seen' ? t.seen : t.callRejected)));
      } else {
        bubble.appendChild(el('div', null, e.body || e.filename || ''));
        for (const section of e.sections || []) {
          for (const row of section.rows || []) bubble.appendChild(el('div', 'meta', '• ' + row.title));
        }
      }
      bubble.appendChild(el('div', 'meta', new Date(e.at * 1000).toLocaleTimeString('pt-BR')));
      chat.appendChild(bubble);
    }
    if (atBottom) chat.scrollTop = chat.scrollHeight;
  }

  $('send-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = $('body').value.trim();
    if (!body) return;
    const customer = $('customer').value.replace(/\D/g, '');
    try {
      await api('POST', 'messages', {to: $('company').value, from: customer, name: $('customer-name').value, body: body});
      mine.push({customer: customer, body: body, at: Date.now() / 1000});
      $('body').value = '';
      refreshChat();
    } catch (e) {
      $('scan-result').textContent = e.message;
    }
  });
  $('call').addEventListener('click', () => {
    api('POST', 'calls', {to: $('company').value, from: $('customer').value}).catch((e) => {
      $('scan-result').textContent = e.message;
    });
  });
  setInterval(refreshSessions, 2000);
  setInterval(refreshChat, 1000);
  refreshSessions();
})();
