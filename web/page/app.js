// The township team page: login with a token, who-am-I header, a Leaflet map of the township's
// villages and active tickets, and the list of active tickets with the buttons their state allows
// (签收 ack, 到场 on_site, 查实 resolve, 查否 false_alarm, 重复 duplicate).
//
// It owns the page's state and the calls to the firepoint HTTP API on the same origin; it never
// decides what a transition means (the server does and answers 400/409) and it never loads
// anything from another origin (no tiles, no CDN). Ticket text is only ever put in the page as
// text (textContent, text nodes, attributes), never as HTML.
'use strict';

(function () {
  const TOKEN_KEY = 'firepoint.token';
  const REFRESH_MS = 60 * 1000; // until the server says (`/me`: serve.page_refresh_s)

  const STATUS = {
    open: { label: '待签收', color: '#d7301f' },
    acknowledged: { label: '已签收', color: '#ec7014' },
    on_site: { label: '已到场', color: '#2171b5' },
    resolved: { label: '查实', color: '#238b45' },
    false_alarm: { label: '查否', color: '#737373' },
    duplicate: { label: '重复', color: '#969696' },
  };
  const KIND = { straw: '秸秆焚烧', weeds: '荒草焚烧', leaves: '枯枝落叶焚烧', garbage: '垃圾焚烧', unknown: '不明' };
  const SOURCE = { satellite: '卫星', camera: '摄像头', drone: '无人机' };
  const ESCALATION = ['网格员', '乡镇组长', '县办'];
  const CAUSES = [
    ['industrial_heat', '工业热源'],
    ['cooking_smoke', '炊烟'],
    ['cloud_fog', '云雾'],
    ['dust', '扬尘'],
    ['other', '其他'],
  ];
  // The buttons each state offers; the allowed transitions of the API.
  const ACTIONS = {
    open: ['ack', 'resolve', 'false_alarm', 'duplicate'],
    acknowledged: ['on_site', 'resolve', 'false_alarm', 'duplicate'],
    on_site: ['resolve', 'false_alarm', 'duplicate'],
  };
  const ACTION_LABEL = {
    ack: ['签收', 'Acknowledge'],
    on_site: ['到场', 'Arrived on site'],
    resolve: ['查实', 'Confirmed, fire dealt with'],
    false_alarm: ['查否', 'False alarm'],
    duplicate: ['重复', 'Duplicate of another ticket'],
    escalate: ['督办', 'Escalate one level (county office)'],
  };
  const TOWER = {
    ok: { label: '在线', color: '#238b45' },
    offline: { label: '离线', color: '#d7301f' },
    frozen: { label: '画面冻结', color: '#ec7014' },
    view_changed: { label: '画面异常', color: '#7a0177' },
    unknown: { label: '无画面', color: '#969696' },
  };
  const FORMS = { resolve: resolveForm, false_alarm: falseAlarmForm, duplicate: duplicateForm };

  const $ = (id) => document.getElementById(id);
  const state = {
    token: null,
    map: null,
    villages: null,
    markers: null,
    tickets: new Map(), // id -> { t: ticket properties, lat, lon }
    timer: null,
    writes: 0, // bumped after every write, so a list fetched before it is not shown
    loadedAt: 0,
    noticeTimer: null,
    evidence: new Map(), // ticket id -> the evidence box (loaded once)
    refreshMs: REFRESH_MS,
    towers: null, // the county's tower layer
    footprints: null, // satellite tickets' pixel footprints
    focus: null, // a ticket to show first (`#ticket=ID`, from the SMS's short link)
  };
  const EVIDENCE_LABEL = { 'frame.jpg': '告警画面', 'crop.jpg': '局部放大', 'before.jpg': '此前画面' };

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  // ---- small DOM helpers: text only -------------------------------------------------------

  /** Builds an element; `props.data` become data-* attributes; children are nodes or text. */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'data') Object.assign(node.dataset, value);
      else if (key === 'text') node.textContent = value;
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  /** A message at the foot of the screen: info fades after a few seconds, errors stay until tapped. */
  function notice(message, kind) {
    const box = $('notice');
    clearTimeout(state.noticeTimer);
    box.textContent = message;
    box.dataset.kind = kind || 'info';
    box.hidden = !message;
    if (message && kind !== 'error') state.noticeTimer = setTimeout(() => { box.hidden = true; }, 4000);
  }

  // ---- time: stored in UTC, shown in Beijing time ----------------------------------------

  const BEIJING = new Intl.DateTimeFormat('zh-CN', {
    timeZone: 'Asia/Shanghai', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  });

  function beijing(iso) {
    const date = new Date(iso);
    if (!iso || Number.isNaN(date.getTime())) return '—';
    const p = Object.fromEntries(BEIJING.formatToParts(date).map((x) => [x.type, x.value]));
    return `${p.month}-${p.day} ${p.hour}:${p.minute}`;
  }

  /** "2 小时 5 分钟" / "45 分钟". */
  function duration(minutes) {
    const h = Math.floor(minutes / 60);
    return h ? `${h} 小时 ${minutes % 60} 分钟` : `${minutes} 分钟`;
  }

  function minutesLate(iso, now) {
    const due = Date.parse(iso);
    return Number.isNaN(due) || now <= due ? 0 : Math.max(1, Math.round((now - due) / 60000));
  }

  // ---- API -------------------------------------------------------------------------------

  async function api(path, body) {
    const init = { headers: { Authorization: `Bearer ${state.token}` }, cache: 'no-store' };
    if (body !== undefined) {
      init.method = 'POST';
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init); // relative: same origin, same base path as the page
    } catch (err) {
      throw new ApiError(0, '网络错误，稍后重试 (network error)');
    }
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      const message = (data && typeof data.error === 'string' && data.error) || `HTTP ${res.status}`;
      throw new ApiError(res.status, message);
    }
    return data;
  }

  /** What every failed call does: a rejected token logs out, the rest is shown. */
  function failed(err) {
    if (err.status === 401) {
      logout('令牌无效或已过期，请重新登录 (token rejected)');
      return;
    }
    notice(err.message, 'error');
  }

  // ---- login -----------------------------------------------------------------------------

  /** `#token=...` is taken once, kept in localStorage, and removed from the address bar. A link
   *  that would replace the token already in use asks first (a link sent by someone else must not
   *  silently make this phone act as them). */
  function tokenFromUrl() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ''));
    const token = (params.get('token') || '').trim();
    state.focus = (params.get('ticket') || '').trim() || state.focus;
    if (!token) return false;
    const current = localStorage.getItem(TOKEN_KEY);
    if (current && current !== token && !window.confirm('用链接中的新令牌替换当前登录？ Replace the token in use with the one in this link?')) {
      history.replaceState(null, '', location.pathname + location.search);
      return false;
    }
    localStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, '', location.pathname + location.search);
    return true;
  }

  function showLogin(message) {
    $('app').hidden = true;
    $('who').hidden = true;
    $('login').hidden = false;
    if (message) notice(message, 'error');
    $('token-input').focus();
  }

  /** Forgets everything the last token saw (its header, tickets, villages). */
  function reset() {
    state.token = null;
    clearInterval(state.timer);
    state.timer = null;
    state.tickets.clear();
    $('tickets').replaceChildren();
    if (state.villages) state.villages.remove();
    state.villages = null;
    if (state.markers) state.markers.clearLayers();
    if (state.towers) state.towers.remove();
    state.towers = null;
    if (state.footprints) state.footprints.clearLayers();
    state.evidence.clear();
    notice('', 'info');
  }

  function logout(message) {
    localStorage.removeItem(TOKEN_KEY);
    reset();
    showLogin(message);
  }

  async function start() {
    state.token = localStorage.getItem(TOKEN_KEY);
    if (!state.token) {
      showLogin();
      return;
    }
    try {
      showMe(await api('me'));
    } catch (err) {
      failed(err);
      return;
    }
    $('login').hidden = true;
    $('app').hidden = false;
    initMap();
    await loadVillages().catch(failed);
    await loadTickets().catch(failed);
    if (isCounty()) await loadDuty().catch(failed);
    if (state.token) state.timer = setInterval(() => refresh().catch(failed), state.refreshMs);
  }

  /** One poll: the tickets, and for the county office its towers and passes too. */
  async function refresh() {
    await loadTickets();
    if (isCounty()) await loadDuty();
  }

  function isCounty() {
    return document.body.dataset.scope === 'county';
  }

  function showMe(me) {
    $('me-name').textContent = me.name || '';
    $('me-township').textContent = me.township || '全县 (county)';
    $('me-township').dataset.code = me.township_code || '';
    document.body.dataset.scope = me.township_code ? 'township' : 'county';
    if (Number(me.refresh_s) > 0) state.refreshMs = Number(me.refresh_s) * 1000;
    $('duty').hidden = !!me.township_code;
    $('who').hidden = false;
  }

  // ---- map -------------------------------------------------------------------------------

  function initMap() {
    if (state.map) {
      state.map.invalidateSize();
      return;
    }
    if (typeof L === 'undefined' || !L) {
      // the map library was not built in (npm ci --prefix web): the list and its buttons still work
      $('map').textContent = '地图库未安装（scripts/setup.sh）· map library not built';
      return;
    }
    state.map = L.map('map', { zoomSnap: 0.25, minZoom: 6 });
    state.map.attributionControl.setPrefix(false);
    state.markers = L.layerGroup().addTo(state.map);
    state.footprints = L.layerGroup().addTo(state.map);
    legend().addTo(state.map);
  }

  function legend() {
    const control = L.control({ position: 'bottomleft' });
    control.onAdd = () => el('div', { class: 'legend' },
      ['open', 'acknowledged', 'on_site'].map((s) =>
        el('span', { class: 'legend-item' },
          el('i', { class: `swatch status-${s}` }), STATUS[s].label)));
    return control;
  }

  async function loadVillages() {
    if (!state.map) return;
    const fc = await api('villages.geojson');
    const many = (fc.features || []).length > 40;
    state.villages = L.geoJSON(fc, {
      style: () => ({ className: 'village', color: '#718a57', weight: 1, fillColor: '#e3ebd3', fillOpacity: 0.7 }),
      onEachFeature: (feature, layer) => {
        const p = feature.properties || {};
        const label = el('span', {}, p.name || p.code || '');
        layer.bindTooltip(label, many
          ? { sticky: true }
          : { permanent: true, direction: 'center', className: 'village-label' });
      },
    }).addTo(state.map);
    state.villages.bringToBack();
    const bounds = state.villages.getBounds();
    if (bounds.isValid()) state.map.fitBounds(bounds, { padding: [8, 8] });
    else state.map.setView([37.5, 115.5], 10);
  }

  function drawMarkers() {
    if (!state.markers) return;
    state.markers.clearLayers();
    for (const { t, lat, lon } of state.tickets.values()) {
      if (!Number.isFinite(lat) || !Number.isFinite(lon)) continue;
      const color = (STATUS[t.status] || STATUS.open).color;
      if (t.radius_m > 0) {
        L.circle([lat, lon], {
          radius: t.radius_m, color, weight: 1, fillOpacity: 0.15, interactive: false, className: 'ticket-radius',
        }).addTo(state.markers);
      }
      const marker = L.circleMarker([lat, lon], {
        radius: 8, color: '#fff', weight: 2, fillColor: color, fillOpacity: 0.95,
        className: `ticket-marker status-${t.status}`,
      });
      marker.bindTooltip(el('span', {}, `${t.village || ''} ${STATUS[t.status] ? STATUS[t.status].label : t.status}`));
      marker.on('click', () => focusRow(t.id));
      marker.addTo(state.markers);
    }
  }

  // ---- the county duty page: towers and satellite passes ---------------------------------

  async function loadDuty() {
    const [towers, passes] = await Promise.all([api('towers'), api('passes')]);
    drawTowers(towers);
    const list = $('passes');
    const items = (passes.inputs || []).map((p) => el('li', { 'data-test': 'pass' },
      `${beijing(p.processed_at)} ${p.name}`,
      el('small', {}, ` ${p.status === 'done' ? `${p.detections} 个火点` : '损坏，已隔离'}`)));
    list.replaceChildren(...(items.length ? items : [el('li', {}, '近 24 小时未收到卫星数据 No satellite data in 24 h')]));
    const bad = (towers.features || []).filter((f) => TOWER[f.properties.state] && !['ok', 'unknown'].includes(f.properties.state));
    $('tower-summary').replaceChildren(
      `塔台 ${(towers.features || []).length} 座，异常 ${bad.length} 座`
        + (bad.length ? `：${bad.map((f) => `${f.properties.id}${TOWER[f.properties.state].label}`).join('、')}` : ''),
      el('br'),
      Object.entries(TOWER).map(([k, s]) => el('span', { class: 'legend-item' },
        el('i', { class: `swatch tower-${k}` }), s.label, ' ')));
  }

  function drawTowers(fc) {
    if (!state.map) return;
    if (state.towers) state.towers.remove();
    state.towers = L.layerGroup().addTo(state.map);
    for (const f of fc.features || []) {
      const p = f.properties || {};
      const [lon, lat] = (f.geometry && f.geometry.coordinates) || [];
      if (!Number.isFinite(lat) || !Number.isFinite(lon)) continue;
      const s = TOWER[p.state] || TOWER.unknown;
      L.circleMarker([lat, lon], {
        radius: 6, color: '#333', weight: 1, fillColor: s.color, fillOpacity: 0.9, className: `tower tower-${p.state}`,
      }).bindTooltip(el('span', {}, `${p.id} ${p.name || ''} ${s.label}${p.since ? ` 自 ${beijing(p.since)}` : ''}`))
        .addTo(state.towers);
    }
  }

  function focusRow(id) {
    const row = rowOf(id);
    if (!row) return;
    document.querySelectorAll('.ticket.focused').forEach((r) => r.classList.remove('focused'));
    row.classList.add('focused');
    row.scrollIntoView({ behavior: 'smooth', block: 'center' });
  }

  function locate(id) {
    const entry = state.tickets.get(id);
    if (!entry || !Number.isFinite(entry.lat)) return;
    if (state.map) state.map.setView([entry.lat, entry.lon], Math.max(state.map.getZoom(), 14));
    $('map').scrollIntoView({ behavior: 'smooth', block: 'start' });
  }

  // ---- tickets ---------------------------------------------------------------------------

  async function loadTickets() {
    const writes = state.writes;
    const fc = await api('tickets.geojson?status=active');
    if (writes !== state.writes) return loadTickets(); // a write landed meanwhile: ask again
    state.tickets.clear();
    for (const f of fc.features || []) {
      const t = f.properties || {};
      if (!t.id) t.id = f.id;
      const [lon, lat] = (f.geometry && f.geometry.coordinates) || [];
      state.tickets.set(t.id, { t, lat, lon });
    }
    renderList();
    drawMarkers();
    state.loadedAt = Date.now();
    $('updated').textContent = `更新于 ${beijing(new Date().toISOString())}（北京时间）· 每 ${Math.round(state.refreshMs / 1000)} 秒自动刷新`;
    $('tickets').dataset.loadedAt = String(state.loadedAt);
    $('tickets').dataset.loads = String(Number($('tickets').dataset.loads || 0) + 1); // polls done
  }

  /** When a ticket is due next: its ack deadline while open, else its deadline. */
  function nextDue(t) {
    return Date.parse(t.status === 'open' && t.ack_deadline ? t.ack_deadline : t.deadline) || Infinity;
  }

  function renderList() {
    const list = $('tickets');
    // the county office sees camera and drone alarms first, then by priority, the oldest first;
    // a township its next deadline first
    const order = isCounty()
      ? (a, b) => isSighting(b) - isSighting(a) || (b.priority === 'high') - (a.priority === 'high')
        || (Date.parse(a.first_seen) || 0) - (Date.parse(b.first_seen) || 0)
      : (a, b) => nextDue(a) - nextDue(b);
    const wanted = [...state.tickets.values()].map((e) => e.t)
      .sort((a, b) => order(a, b) || String(a.id).localeCompare(String(b.id)));
    const focused = document.activeElement;
    const keep = new Set(wanted.map((t) => t.id));
    for (const row of [...list.children]) if (!keep.has(row.dataset.ticket)) row.remove();
    for (const id of [...state.evidence.keys()]) if (!keep.has(id)) state.evidence.delete(id); // closed: forgotten
    let cursor = list.firstElementChild;
    for (const t of wanted) {
      const row = rowOf(t.id) || el('li', { class: 'ticket', data: { ticket: t.id } });
      fillRow(row, t);
      if (row === cursor) cursor = cursor.nextElementSibling;
      else list.insertBefore(row, cursor); // only rows out of place move
    }
    if (focused && focused.isConnected && document.activeElement !== focused) focused.focus({ preventScroll: true });
    if (state.focus && rowOf(state.focus)) {
      const row = rowOf(state.focus);
      row.classList.add('focus');
      row.scrollIntoView({ block: 'start' });
      state.focus = null;
    }
    const active = wanted.filter((t) => ACTIONS[t.status]).length;
    $('count').textContent = `${active} 条`;
    $('empty').hidden = wanted.length > 0;
  }

  function isSighting(t) {
    return (t.sources || []).some((s) => s === 'camera' || s === 'drone') ? 1 : 0;
  }

  function rowOf(id) {
    for (const row of $('tickets').children) if (row.dataset.ticket === id) return row;
    return null;
  }

  /** (Re)draws a row's text and buttons; an open form stays while its action is still allowed. */
  function fillRow(row, t) {
    const now = Date.now();
    const form = row.querySelector('form[data-form]');
    const allowed = [...(ACTIONS[t.status] || [])];
    if (isCounty() && ACTIONS[t.status] && (t.escalation || 0) < 2) allowed.push('escalate');
    row.dataset.status = t.status;
    row.dataset.source = isSighting(t) ? 'sighting' : 'satellite';
    row.dataset.overdue = String(isOverdue(t, now));
    row.classList.toggle('closed', !ACTIONS[t.status]);
    const fresh = [head(t), facts(t, now), evidence(t), actions(t, allowed)].filter(Boolean);
    const error = el('p', { class: 't-error', role: 'alert', hidden: true });
    if (form && allowed.includes(form.dataset.form)) {
      for (const child of [...row.children]) if (child !== form) child.remove(); // the form keeps focus
      form.before(...fresh);
      form.after(error);
    } else {
      row.replaceChildren(...fresh, error);
    }
  }

  // ---- evidence: the pictures of a camera or drone sighting --------------------------------

  /** The ticket's evidence box (camera and drone tickets), loaded once and kept across redraws. */
  function evidence(t) {
    if (!(t.sources || []).some((s) => s === 'camera' || s === 'drone')) return satellite(t);
    let box = state.evidence.get(t.id);
    if (!box) {
      box = el('div', { class: 't-evidence', 'data-test': 'evidence' }, el('small', {}, '图像加载中… Loading pictures'));
      state.evidence.set(t.id, box);
      loadEvidence(t.id, box);
    }
    return box;
  }

  /** A satellite ticket's pixels: sensor, pass time, FRP and confidence in the row, the
   *  footprints on the map (fetched once per ticket). */
  function satellite(t) {
    if (!(t.sources || []).includes('satellite')) return null;
    let box = state.evidence.get(t.id);
    if (!box) {
      box = el('div', { class: 't-pixels', 'data-test': 'pixels' });
      state.evidence.set(t.id, box);
      api(`tickets/${encodeURIComponent(t.id)}/evidence/footprints.geojson`).then((fc) => {
        const lines = (fc.features || []).slice(0, 6).map((f) => {
          const p = f.properties || {};
          const frp = p.frp_mw != null ? ` · FRP ${p.frp_mw} MW` : '';
          return el('li', {}, `${p.sensor} ${beijing(p.observed_at)}${frp} · 置信度 ${Math.round((p.confidence || 0) * 100)}%`);
        });
        const more = (fc.features || []).length > 6 ? el('li', {}, `… 共 ${fc.features.length} 个像元`) : null;
        box.replaceChildren(el('small', {}, '卫星像元 Satellite pixels'), el('ul', {}, lines, more));
        if (state.map && state.footprints) {
          L.geoJSON(fc, {
            style: () => ({ className: 'footprint', color: '#b30000', weight: 1, fillOpacity: 0.1 }),
            // a table row has no footprint, only its point: a small circle, never Leaflet's icon image
            pointToLayer: (f, latlng) => L.circleMarker(latlng, { radius: 4, className: 'footprint', color: '#b30000', weight: 1 }),
            interactive: false,
          })
            .addTo(state.footprints);
        }
      }).catch(() => { state.evidence.delete(t.id); });
    }
    return box;
  }

  /** Fetches the list, then each picture with the token (an <img> cannot send it) as a blob. */
  async function loadEvidence(id, box) {
    try {
      const list = await api(`tickets/${encodeURIComponent(id)}/evidence`);
      const parts = [];
      const notes = new Set();
      const rank = (e) => { const i = Object.keys(EVIDENCE_LABEL).indexOf(e.name); return i < 0 ? 99 : i; };
      for (const e of [...(list.evidence || [])].sort((a, b) => rank(a) - rank(b))) {
        if (e.note) notes.add(e.note);
        if (!String(e.content_type).startsWith('image/')) continue;
        const res = await fetch(String(e.url).replace(/^\//, ''), {
          headers: { Authorization: `Bearer ${state.token}` }, cache: 'no-store',
        });
        if (!res.ok) continue;
        const src = URL.createObjectURL(await res.blob());
        const release = () => URL.revokeObjectURL(src); // the decoded picture stays on the page
        const label = EVIDENCE_LABEL[e.name] || e.name;
        parts.push(el('figure', {},
          withRelease(el('img', { src, alt: label, 'data-test': `evidence-${String(e.name).replace(/\.\w+$/, '')}` }), release),
          el('figcaption', {}, label)));
      }
      for (const n of notes) parts.push(el('small', { class: 't-evidence-note' }, n));
      box.replaceChildren(...(parts.length ? parts : [el('small', {}, '无图像 No pictures')]));
    } catch (err) {
      state.evidence.delete(id); // tried again at the next redraw
      box.replaceChildren(el('small', {}, `图像无法加载：${err.message}`));
    }
  }

  function withRelease(img, release) {
    img.addEventListener('load', release, { once: true });
    img.addEventListener('error', release, { once: true });
    return img;
  }

  function isOverdue(t, now) {
    if (!ACTIONS[t.status]) return false;
    if (t.status === 'open' && t.ack_deadline && minutesLate(t.ack_deadline, now)) return true;
    return minutesLate(t.deadline, now) > 0;
  }

  function head(t) {
    const s = STATUS[t.status] || { label: t.status };
    const scopeCounty = document.body.dataset.scope === 'county';
    return el('div', { class: 't-head' },
      el('span', { class: `badge status-${t.status}`, 'data-test': 'status' }, s.label),
      el('strong', { class: 't-village' }, t.village || '（村外）'),
      scopeCounty && t.township ? el('span', { class: 't-town' }, t.township) : null,
      t.priority === 'high' ? el('span', { class: 'tag high', title: 'High priority' }, '紧急') : null,
      t.escalation > 0
        ? el('span', { class: 'tag esc', title: 'Escalated' }, `已升级至${ESCALATION[t.escalation] || t.escalation}`)
        : null);
  }

  function facts(t, now) {
    const rows = [
      ['网格', grid(t)],
      ['类型', `${KIND[t.kind] || t.kind || '—'} · ${(t.sources || []).map((s) => SOURCE[s] || s).join('+') || '—'}`],
      ...(t.kind_why && t.kind_why.rule ? [['类型依据', kindWhy(t.kind_why)]] : []),
      ...((t.windows || []).length ? [['风险时段', t.windows.join('；')]] : []),
      ['发现', beijing(t.first_seen) + (t.last_seen && t.last_seen !== t.first_seen ? `，最近 ${beijing(t.last_seen)}` : '')],
    ];
    if (t.ack_deadline && t.status === 'open') rows.push(['签收时限', due(t.ack_deadline, now, 'ack')]);
    const dueLabel = t.ack_deadline ? '到场时限' : '核查时限';
    if (ACTIONS[t.status]) rows.push([dueLabel, due(t.deadline, now, 'deadline')]);
    if (t.acked_at) rows.push(['签收', `${t.acked_by || ''} ${beijing(t.acked_at)}`.trim()]);
    if (t.on_site_at) rows.push(['到场', `${t.on_site_by || ''} ${beijing(t.on_site_at)}`.trim()]);
    if (t.closed_at) rows.push(['办结', `${t.closed_by ? `${t.closed_by} ` : ''}${closing(t)}`]);
    if ((t.reasons || []).length) rows.push(['说明', t.reasons.join('；')]);
    rows.push(['编号', t.id]);
    return el('dl', { class: 't-facts' }, rows.map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  }

  /** The kind rule and the inputs it read, as one line: `farmland_in_harvest_or_sowing（耕地, 小麦收获…）`. */
  function kindWhy(w) {
    const i = w.inputs || {};
    const parts = [i.landuse, ...(i.season || []), i.village_m != null ? `距村${i.village_m} m` : null,
      i.road ? `距${i.road.name || '道路'}${i.road.m} m` : null, i.dump_site ? `距垃圾点${i.dump_site.m} m` : null,
      i.frp_mw != null ? `FRP ${i.frp_mw} MW` : null].filter((p) => p != null && p !== '');
    return parts.length ? `${w.rule}（${parts.join('，')}）` : w.rule;
  }

  function grid(t) {
    const phone = String(t.grid_phone || '').replace(/[^0-9+\-]/g, '');
    return el('span', {},
      [t.grid_id, t.grid_member].filter(Boolean).join(' ') || '—',
      phone ? ' ' : null,
      phone ? el('a', { href: `tel:${phone}`, class: 'tel' }, t.grid_phone) : null);
  }

  function due(iso, now, which) {
    const late = minutesLate(iso, now);
    return el('span', { class: late ? 'overdue' : 'due', 'data-due': which, title: 'Beijing time' },
      beijing(iso), late ? ` 已超时 ${duration(late)}` : null);
  }

  function closing(t) {
    const cause = CAUSES.find(([c]) => c === t.false_alarm_cause);
    return [
      beijing(t.closed_at),
      cause ? ` ${cause[1]}` : '',
      t.duplicate_of ? ` 同 ${t.duplicate_of}` : '',
      t.close_note ? ` · ${t.close_note}` : '',
    ].join('');
  }

  function actions(t, allowed) {
    const buttons = allowed.map((a) => el('button', {
      type: 'button', class: `act act-${a}`, data: { action: a }, title: ACTION_LABEL[a][1],
    }, ACTION_LABEL[a][0]));
    if (Number.isFinite((state.tickets.get(t.id) || {}).lat)) {
      buttons.push(el('button', { type: 'button', class: 'act act-locate', data: { action: 'locate' }, title: 'Show on map' }, '定位'));
    }
    return el('div', { class: 't-actions' }, buttons);
  }

  // ---- inline forms (查实 / 查否 / 重复) --------------------------------------------------

  function resolveForm() {
    return el('form', { data: { form: 'resolve' } },
      el('label', {}, hint('处置情况', 'What was done'),
        el('textarea', { name: 'action', rows: 2, maxlength: 500, required: true })),
      formButtons('resolve', '提交查实'));
  }

  function falseAlarmForm() {
    return el('form', { data: { form: 'false_alarm' } },
      el('label', {}, hint('原因', 'Cause'),
        el('select', { name: 'cause', required: true },
          el('option', { value: '' }, '请选择…'),
          CAUSES.map(([value, label]) => el('option', { value }, label)))),
      el('label', {}, hint('备注', 'Note, optional'),
        el('input', { name: 'note', type: 'text', maxlength: 500 })),
      formButtons('false_alarm', '提交查否'));
  }

  function duplicateForm() {
    return el('form', { data: { form: 'duplicate' } },
      el('label', {}, hint('与哪张工单重复', 'Duplicate of ticket id'),
        el('input', { name: 'of', type: 'text', required: true, placeholder: 'FP-…', autocapitalize: 'characters' })),
      formButtons('duplicate', '提交'));
  }

  function hint(chinese, english) {
    return el('span', {}, chinese, ' ', el('small', {}, english));
  }

  function formButtons(action, label) {
    return el('div', { class: 'form-buttons' },
      el('button', { type: 'submit', data: { action: `${action}-submit` } }, label),
      el('button', { type: 'button', data: { action: 'cancel' } }, '取消'));
  }

  function formBody(form) {
    const data = new FormData(form);
    const text = (name) => String(data.get(name) || '').trim();
    switch (form.dataset.form) {
      case 'resolve': return { action: text('action') };
      case 'false_alarm': return text('note') ? { cause: text('cause'), note: text('note') } : { cause: text('cause') };
      case 'duplicate': return { of: text('of') };
      default: return {};
    }
  }

  function toggleForm(row, action) {
    const open = row.querySelector('form[data-form]');
    if (open) open.remove();
    if (open && open.dataset.form === action) return;
    const form = FORMS[action]();
    row.querySelector('.t-actions').after(form);
    form.querySelector('textarea, select, input').focus();
  }

  // ---- writes ----------------------------------------------------------------------------

  async function write(row, action, body) {
    const id = row.dataset.ticket;
    row.setAttribute('aria-busy', 'true');
    row.querySelectorAll('button').forEach((b) => { b.disabled = true; });
    try {
      const t = await api(`tickets/${encodeURIComponent(id)}/${action}`, body);
      state.writes += 1;
      const entry = state.tickets.get(id) || {};
      state.tickets.set(id, { ...entry, t });
      const form = row.querySelector('form[data-form]');
      if (form) form.remove();
      fillRow(row, t);
      drawMarkers();
      notice(`${id}：${(STATUS[t.status] || { label: t.status }).label}`, 'info');
    } catch (err) {
      state.writes += 1;
      if (err.status === 409 || err.status === 404) {
        notice(`${id}：${err.message}（已重新加载 reloaded）`, 'error');
        await loadTickets().catch(failed);
      } else if (err.status === 401) {
        failed(err);
      } else {
        row.querySelectorAll('button').forEach((b) => { b.disabled = false; });
        const error = row.querySelector('.t-error');
        error.textContent = err.message;
        error.hidden = false;
      }
    } finally {
      row.removeAttribute('aria-busy');
    }
  }

  // ---- events ----------------------------------------------------------------------------

  function onListClick(event) {
    const button = event.target.closest('button[data-action]');
    const row = event.target.closest('li[data-ticket]');
    if (!button || !row || button.type === 'submit') return;
    const action = button.dataset.action;
    if (action === 'cancel') button.closest('form').remove();
    else if (action === 'locate') locate(row.dataset.ticket);
    else if (FORMS[action]) toggleForm(row, action);
    else if (action === 'ack' || action === 'on_site' || action === 'escalate') write(row, action, {});
  }

  function onListSubmit(event) {
    event.preventDefault();
    const form = event.target;
    const row = form.closest('li[data-ticket]');
    if (row && form.reportValidity()) write(row, form.dataset.form, formBody(form));
  }

  function onLogin(event) {
    event.preventDefault();
    const token = $('token-input').value.trim();
    if (!token) return;
    localStorage.setItem(TOKEN_KEY, token);
    $('token-input').value = '';
    notice('', 'info');
    start();
  }

  function wire() {
    $('tickets').addEventListener('click', onListClick);
    $('tickets').addEventListener('submit', onListSubmit);
    $('login').addEventListener('submit', onLogin);
    $('logout').addEventListener('click', () => logout());
    $('refresh').addEventListener('click', () => refresh().catch(failed));
    $('notice').addEventListener('click', () => { $('notice').hidden = true; });
    window.addEventListener('hashchange', () => {
      if (!tokenFromUrl()) return; // a new link opened in this tab: start over with its token
      reset();
      start();
    });
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden && state.token && state.timer && Date.now() - state.loadedAt > state.refreshMs) {
        refresh().catch(failed);
      }
    });
  }

  tokenFromUrl();
  wire();
  start();
})();
