// Grafo explorer: a hand-written single-page application. It talks only to
// /graphql on its own origin (POST JSON; subscriptions over a websocket with
// the graphql-transport-ws protocol). No build step, no dependencies.
'use strict';

(function () {
  // ---------------------------------------------------------------- helpers

  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const SVGNS = 'http://www.w3.org/2000/svg';

  // h builds an element: h('a', {href: '#'}, 'text', child…). Text is
  // always set as text, never parsed as HTML.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVGNS, tag);
    setAttrs(el, attrs);
    append(el, children);
    return el;
  }
  function setAttrs(el, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === undefined || c === null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  const enc = encodeURIComponent;
  const fmtTime = (t) => {
    if (!t) return '—';
    const d = new Date(t);
    return isNaN(d) ? String(t) : d.toLocaleString();
  };
  const plural = (n, one, many) => `${n} ${n === 1 ? one : (many || one + 's')}`;
  const nodeHref = (g, id, depth) => `#/node/${enc(g)}/${enc(id)}` + (depth && depth !== 1 ? `?depth=${depth}` : '');
  const graphHref = (g) => `#/graph/${enc(g)}`;
  function where(n) {
    const f = n.file && n.file.path;
    if (!f) return n.external ? 'external' : '';
    return n.line ? `${f}:${n.line}` : f;
  }

  // ---------------------------------------------------------------- GraphQL

  class GraphQLError extends Error {}

  // API token: a server started with --tokens answers 401 without one.
  // The token lives in this tab's sessionStorage; ?token=… in the page's
  // URL sets it (and is then removed from the address bar).
  const TOKEN_KEY = 'grafo-token';
  (function tokenFromURL() {
    const params = new URLSearchParams(window.location.search);
    const t = params.get('token');
    if (t) {
      sessionStorage.setItem(TOKEN_KEY, t);
      params.delete('token');
      const q = params.toString();
      history.replaceState(null, '', window.location.pathname + (q ? '?' + q : '') + window.location.hash);
    }
  })();
  function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
  function authHeaders(h) {
    const t = token();
    if (t) h['Authorization'] = 'Bearer ' + t;
    return h;
  }
  // askToken asks for a token after a 401; false when none was given.
  function askToken(why) {
    const t = window.prompt(why + '\nThis Grafo needs an API token (see the README, "Security"):', '');
    if (!t) return false;
    sessionStorage.setItem(TOKEN_KEY, t.trim());
    return true;
  }

  async function gql(query, variables, retried) {
    let res;
    try {
      res = await fetch('/graphql', {
        method: 'POST',
        headers: authHeaders({'Content-Type': 'application/json', 'Accept': 'application/json'}),
        body: JSON.stringify({query, variables: variables || {}}),
      });
    } catch (e) {
      throw new GraphQLError('cannot reach the server: ' + e.message);
    }
    if ((res.status === 401 || res.status === 403) && !retried &&
        askToken(res.status === 401 ? 'No valid token.' : 'This token may not do that.')) {
      return gql(query, variables, true);
    }
    let body;
    try {
      body = await res.json();
    } catch (e) {
      throw new GraphQLError(`the server answered ${res.status} ${res.statusText}`);
    }
    if (body.errors && body.errors.length) {
      const err = new GraphQLError(body.errors.map((e) => e.message).join('; '));
      err.data = body.data;
      throw err;
    }
    return body.data;
  }

  // Live is a graphql-transport-ws client: one websocket, any number of
  // subscriptions, reconnecting with back-off while any is wanted.
  class Live {
    constructor(onState) {
      this.subs = new Map(); // id → {payload, next}
      this.seq = 0;
      this.ws = null;
      this.acked = false;
      this.retry = 0;
      this.timer = 0;
      this.onState = onState;
    }
    subscribe(query, variables, next) {
      const id = String(++this.seq);
      this.subs.set(id, {payload: {query, variables}, next});
      if (this.acked) this.send({id, type: 'subscribe', payload: {query, variables}});
      else this.connect();
      this.state();
      return () => {
        if (!this.subs.delete(id)) return;
        if (this.acked) this.send({id, type: 'complete'});
        this.state();
        if (this.subs.size === 0) this.close();
      };
    }
    // update replaces the variables a subscription resubscribes with after
    // a reconnect (so `since` moves forward).
    update(variables) {
      for (const sub of this.subs.values()) Object.assign(sub.payload.variables, variables);
    }
    connect() {
      if (this.ws || this.timer) return;
      const url = (window.location.protocol === 'https:' ? 'wss://' : 'ws://') + window.location.host + '/graphql';
      let ws;
      try {
        ws = new WebSocket(url, 'graphql-transport-ws');
      } catch (e) {
        this.reconnect();
        return;
      }
      this.ws = ws;
      ws.onopen = () => {
        const t = token();
        this.send({type: 'connection_init', payload: t ? {Authorization: 'Bearer ' + t} : {}});
      };
      ws.onmessage = (ev) => this.message(ev.data);
      ws.onerror = () => {}; // onclose follows and handles it
      ws.onclose = () => {
        this.ws = null;
        this.acked = false;
        this.state();
        if (this.subs.size) this.reconnect();
      };
    }
    reconnect() {
      const wait = Math.min(30000, 500 * 2 ** this.retry++);
      this.timer = setTimeout(() => { this.timer = 0; this.connect(); }, wait);
    }
    close() {
      clearTimeout(this.timer);
      this.timer = 0;
      if (this.ws) {
        const ws = this.ws;
        this.ws = null;
        this.acked = false;
        ws.onclose = null;
        ws.close(1000, 'no subscriptions');
      }
      this.state();
    }
    send(msg) {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
    }
    message(data) {
      let msg;
      try { msg = JSON.parse(data); } catch (e) { return; }
      switch (msg.type) {
        case 'connection_ack':
          this.acked = true;
          this.retry = 0;
          for (const [id, sub] of this.subs) this.send({id, type: 'subscribe', payload: sub.payload});
          this.state();
          break;
        case 'ping':
          this.send({type: 'pong'});
          break;
        case 'next': {
          const sub = this.subs.get(msg.id);
          if (sub && msg.payload && msg.payload.data) sub.next(msg.payload.data);
          break;
        }
        case 'error':
        case 'complete':
          // The server ended it (e.g. the graph is gone); stop asking.
          this.subs.delete(msg.id);
          this.state();
          break;
      }
    }
    // state is 'idle' (no page wants live updates), 'live', or
    // 'connecting' (wanted, not connected yet or reconnecting).
    state() {
      this.onState(this.subs.size === 0 ? 'idle' : this.acked ? 'live' : 'connecting');
    }
  }

  // The badge says what the page does, not whether the server is up: a
  // page with nothing to follow is "not live", which is not an outage.
  const LIVE_BADGE = {
    idle: ['not live', 'This page does not follow changes; graph and node pages update live'],
    connecting: ['connecting…', 'Connecting to the server for live updates of this graph'],
    live: ['live', 'Receiving live updates for this graph'],
  };
  const live = new Live((state) => {
    const el = $('#live');
    el.classList.toggle('on', state === 'live');
    el.classList.toggle('idle', state === 'idle');
    [el.textContent, el.title] = LIVE_BADGE[state];
  });

  // ---------------------------------------------------------------- toast

  let toastTimer = 0;
  function toast(text) {
    const el = $('#toast');
    el.textContent = text;
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.hidden = true; }, 5000);
  }

  // ---------------------------------------------------------------- routing

  const app = {
    graph: null,       // the graph the current view belongs to
    render: null,      // re-renders the current view (live refresh)
    stopLive: null,
    liveGraph: null,
    neighbourhood: null, // {center, nodes, edges} of the node view, for export
    token: 0,          // drops answers to stale requests
  };

  function parseRoute() {
    const raw = window.location.hash.replace(/^#/, '') || '/';
    const [path, qs] = raw.split('?');
    const parts = path.split('/').filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch (e) { return p; } });
    return {parts, params: new URLSearchParams(qs || '')};
  }

  async function route() {
    const {parts, params} = parseRoute();
    const token = ++app.token;
    const main = $('#main');
    let nav = 'graphs';
    let view;
    if (parts[0] === 'graph' && parts[1]) {
      view = (tok) => graphView(parts[1], tok);
      setGraph(parts[1]);
    } else if (parts[0] === 'node' && parts[1] && parts[2]) {
      const depth = Math.min(3, Math.max(1, parseInt(params.get('depth') || '1', 10) || 1));
      const all = params.get('all') === '1';
      view = (tok) => nodeView(parts[1], parts[2], depth, tok, all);
      setGraph(parts[1]);
    } else if (parts[0] === 'console') {
      nav = 'console';
      view = (tok) => consoleView(params, tok);
      setGraph(null);
    } else if (parts[0] === 'cluster') {
      nav = 'cluster';
      view = (tok) => clusterView(tok);
      setGraph(null);
    } else {
      view = (tok) => graphsView(tok);
      setGraph(null);
    }
    for (const a of $$('[data-nav]')) {
      if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    app.render = view;
    closeResults();
    // The export dialog shows the previous view's text: never keep it
    // open across navigation.
    const dlg = $('#export-dialog');
    if (dlg.open) dlg.close();
    window.scrollTo(0, 0);
    try {
      await view(token);
    } catch (e) {
      if (token !== app.token) return;
      main.replaceChildren(h('h1', {}, 'Something went wrong'), h('p', {class: 'error', role: 'alert'}, e.message));
    }
  }

  // setGraph subscribes to the graph's changes while a view of it is open.
  function setGraph(g) {
    app.graph = g;
    if (g) app.lastGraph = g;
    $('#search').placeholder = g ? `Search nodes in ${g}… ( / )` : 'Search nodes in all graphs… ( / )';
    if (g === app.liveGraph) return;
    if (app.stopLive) app.stopLive();
    app.stopLive = null;
    app.liveGraph = g;
    if (!g) return;
    // since: changes after the page opened the graph are replayed, so
    // nothing is lost between loading the view and subscribing.
    const vars = {g, since: new Date().toISOString()};
    app.stopLive = live.subscribe(
      'subscription($g: ID!, $since: Time) { graphChanged(graphId: $g, since: $since) { graphId at kind nodes } }',
      vars,
      (data) => onChange(data.graphChanged));
  }

  let refreshTimer = 0;
  let pending = {ids: new Set(), kinds: new Set()};
  function onChange(ch) {
    if (!ch || ch.graphId !== app.liveGraph) return;
    live.update({since: ch.at});
    for (const id of ch.nodes || []) pending.ids.add(id);
    pending.kinds.add(ch.kind);
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(async () => {
      const p = pending;
      pending = {ids: new Set(), kinds: new Set()};
      if (p.kinds.has('GRAPH_DELETED')) toast(`graph ${app.liveGraph} was deleted`);
      else toast(`${plural(p.ids.size, 'node')} changed (${Array.from(p.kinds).join(', ').toLowerCase().replace(/_/g, ' ')})`);
      if (app.render) {
        try { await app.render(++app.token); } catch (e) { toast('refresh failed: ' + e.message); }
      }
    }, 250);
  }

  // ---------------------------------------------------------------- graphs page

  // EXAMPLES: [title, query, variables for graph g (or null)].
  const EXAMPLES = [
    ['List graphs with their stats', '{\n  graphs {\n    id\n    updatedAt\n    stats { files nodes edges byKind { kind count } }\n  }\n}', null],
    ['Find a symbol in every graph', 'query ($q: String!) {\n  search(query: $q, first: 5) {\n    qualifiedName\n    graph { id }\n    file { path }\n    line\n  }\n}', () => ({q: 'Coordinator.Put'})],
    ['Who calls a function (2 levels)', 'query ($g: ID!, $qn: String!) {\n  graph(id: $g) {\n    node(qualifiedName: $qn) {\n      name\n      callers(depth: 2) { qualifiedName file { path } line }\n    }\n  }\n}', (g) => ({g, qn: ''})],
    ['Find nodes by name prefix', 'query ($g: ID!) {\n  graph(id: $g) {\n    nodes(name: "New", first: 20) {\n      totalCount\n      nodes { kind qualifiedName file { path } line }\n    }\n  }\n}', (g) => ({g})],
    ['Class relations of a type', 'query ($g: ID!, $qn: String!) {\n  graph(id: $g) {\n    node(qualifiedName: $qn) {\n      edges(direction: BOTH) { relation node { kind qualifiedName } }\n    }\n  }\n}', (g) => ({g, qn: ''})],
    ['Cluster status', '{\n  cluster {\n    replicas writeQuorum readQuorum leader hintsPending rebalancing\n    nodes { id state weight vnodes keys }\n  }\n}', null],
  ];
  const exampleVars = (v, g) => v ? JSON.stringify(v(g || ''), null, 2) : '';
  function consoleHref(query, variables) {
    let href = '#/console?query=' + enc(query);
    if (variables) href += '&variables=' + enc(variables);
    return href;
  }
  function examples(g) {
    return h('section', {class: 'panel examples', 'aria-labelledby': 'ex-title'},
      h('h2', {id: 'ex-title'}, 'Example queries'),
      h('p', {class: 'muted'}, 'Open these in the query console to explore the API.'),
      h('ul', {}, EXAMPLES.map(([title, q, v]) => h('li', {}, h('a', {href: consoleHref(q, exampleVars(v, g))}, title)))));
  }

  async function consoleView(params, token) {
    if (token !== app.token) return;
    document.title = 'Query console · Grafo';
    window.grafoConsole.view({
      main: $('#main'), h, gql, toast,
      examples: EXAMPLES.map(([title, q, v]) => [title, q, exampleVars(v, app.lastGraph)]),
      query: params.get('query'), variables: params.get('variables'),
    });
  }

  function kindChips(byKind) {
    return h('ul', {class: 'chips', 'aria-label': 'Nodes by kind'},
      (byKind || []).map((k) => h('li', {class: 'chip'}, h('span', {class: `kind ${k.kind}`}, k.kind.toLowerCase()), ' ', k.count)));
  }
  function relationChips(byRelation) {
    const rels = (byRelation || []).filter((r) => r.count > 0);
    if (!rels.length) return h('p', {class: 'muted'}, 'No edges yet.');
    return h('ul', {class: 'chips', 'aria-label': 'Edges by relation'},
      rels.map((r) => h('li', {class: 'chip'}, r.relation.toLowerCase().replace(/_/g, ' '), ' ', h('strong', {}, r.count))));
  }
  const languages = (ls) => (ls || []).length ? ls.map((l) => l.version ? `${l.name} ${l.version}` : l.name).join(', ') : '—';
  // Where a graph was ingested from: the tree's root and, from git, the
  // branch and commit (short, the full hash in the title). Nothing for a
  // graph built through mutations.
  const SOURCE_FIELDS = 'source { root commit branch ingestedAt }';
  function sourceFacts(src) {
    if (!src) return [];
    const git = src.commit
      ? h('span', {class: 'git', title: src.commit}, ' @ ', src.branch || 'detached', ' ', h('code', {}, src.commit.slice(0, 12)))
      : src.branch ? h('span', {class: 'git'}, ' @ ', src.branch, ' (no commit)') : null;
    return [h('dt', {}, 'Source'), h('dd', {class: 'source'}, h('code', {}, src.root), git)];
  }

  async function graphsView(token) {
    const data = await gql(`{ graphs { id createdAt updatedAt languages { name version } ${SOURCE_FIELDS}
      stats { files nodes edges byKind { kind count } byRelation { relation count } } } }`);
    if (token !== app.token) return;
    document.title = 'Graphs · Grafo';
    const graphs = data.graphs || [];
    $('#main').replaceChildren(
      h('h1', {}, 'Graphs'),
      graphs.length === 0
        ? h('p', {class: 'panel'}, 'No graphs yet. Ingest a tree with ', h('code', {}, 'grafo ingest PATH --graph NAME'), '.')
        : h('ul', {class: 'cards', id: 'graph-list'}, graphs.map((g) => h('li', {class: 'panel card', dataset: {graph: g.id}},
          h('h2', {}, h('a', {href: graphHref(g.id)}, g.id)),
          h('dl', {class: 'facts'},
            h('dt', {}, 'Files'), h('dd', {}, g.stats.files),
            h('dt', {}, 'Nodes'), h('dd', {}, g.stats.nodes),
            h('dt', {}, 'Edges'), h('dd', {}, g.stats.edges),
            h('dt', {}, 'Languages'), h('dd', {}, languages(g.languages)),
            sourceFacts(g.source),
            h('dt', {}, 'Created'), h('dd', {}, h('time', {datetime: g.createdAt}, fmtTime(g.createdAt))),
            h('dt', {}, 'Updated'), h('dd', {}, h('time', {datetime: g.updatedAt}, fmtTime(g.updatedAt)))),
          kindChips(g.stats.byKind),
          relationChips(g.stats.byRelation)))),
      examples(graphs[0] && graphs[0].id));
  }

  // ---------------------------------------------------------------- graph page

  const NODE_FIELDS = 'id kind name qualifiedName external line file { path }';

  async function graphView(g, token, state) {
    state = state || {kind: '', after: null, nodes: []};
    const data = await gql(`query($g: ID!) { graph(id: $g) { id createdAt updatedAt languages { name version }
      ${SOURCE_FIELDS} fileCount files(first: 300) { name path md5 adler32 language diagnostics }
      stats { files nodes edges byKind { kind count } byRelation { relation count } } } }`, {g});
    if (token !== app.token) return;
    const gr = data.graph;
    document.title = `${g} · Grafo`;
    if (!gr) {
      $('#main').replaceChildren(h('h1', {}, 'Graph not found'), h('p', {}, `There is no graph named “${g}”. `, h('a', {href: '#/'}, 'All graphs')));
      return;
    }
    const list = h('ul', {class: 'node-list', id: 'node-list'});
    const more = h('button', {type: 'button', class: 'more', hidden: true}, 'More');
    const kindSel = h('select', {id: 'kind-filter'},
      h('option', {value: ''}, 'all kinds'), ['FUNCTION', 'CLASS', 'VARIABLE'].map((k) => h('option', {value: k}, k.toLowerCase())));
    let after = null;
    async function load(reset) {
      if (reset) { after = null; list.replaceChildren(); }
      const kind = kindSel.value || null;
      const d = await gql(`query($g: ID!, $kind: NodeKind, $after: String) { graph(id: $g) {
        nodes(kind: $kind, first: 50, after: $after) { totalCount pageInfo { endCursor hasNextPage } nodes { ${NODE_FIELDS} } } } }`,
      {g, kind, after});
      const conn = d.graph.nodes;
      append(list, conn.nodes.map((n) => h('li', {}, browseLink(g, n), ' ', h('span', {class: 'muted'}, where(n)))));
      after = conn.pageInfo.endCursor;
      more.hidden = !conn.pageInfo.hasNextPage;
    }
    kindSel.addEventListener('change', () => load(true).catch((e) => toast(e.message)));
    more.addEventListener('click', () => load(false).catch((e) => toast(e.message)));

    const files = gr.files || []; // the first 300; fileCount says how many in all
    $('#main').replaceChildren(
      h('p', {class: 'crumbs'}, h('a', {href: '#/'}, 'Graphs'), ' / '),
      h('h1', {}, gr.id),
      h('div', {class: 'cards'},
        h('section', {class: 'panel', 'aria-labelledby': 'st-title'},
          h('h2', {id: 'st-title'}, 'Overview'),
          h('dl', {class: 'facts'},
            h('dt', {}, 'Files'), h('dd', {}, gr.stats.files),
            h('dt', {}, 'Nodes'), h('dd', {}, gr.stats.nodes),
            h('dt', {}, 'Edges'), h('dd', {}, gr.stats.edges),
            h('dt', {}, 'Languages'), h('dd', {}, languages(gr.languages)),
            sourceFacts(gr.source),
            h('dt', {}, 'Created'), h('dd', {}, fmtTime(gr.createdAt)),
            h('dt', {}, 'Updated'), h('dd', {}, fmtTime(gr.updatedAt))),
          h('h3', {}, 'Nodes by kind'), kindChips(gr.stats.byKind),
          h('h3', {}, 'Edges by relation'), relationChips(gr.stats.byRelation)),
        h('section', {class: 'panel', 'aria-labelledby': 'nl-title'},
          h('h2', {id: 'nl-title'}, 'Browse nodes'),
          h('label', {for: 'kind-filter'}, 'Show '), kindSel,
          list, more)),
      h('section', {class: 'panel', 'aria-labelledby': 'files-title'},
        h('h2', {id: 'files-title'}, `Files (${gr.fileCount})`),
        files.length === 0 ? h('p', {class: 'muted'}, 'No files recorded.') :
          h('table', {},
            h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Path'), h('th', {scope: 'col'}, 'Language'),
              h('th', {scope: 'col'}, 'MD5'), h('th', {scope: 'col'}, 'Adler-32'), h('th', {scope: 'col'}, 'Diagnostics'))),
            h('tbody', {}, files.map((f) => h('tr', {},
              h('td', {class: 'mono'}, f.path), h('td', {}, f.language || '—'),
              h('td', {class: 'mono'}, f.md5), h('td', {class: 'mono'}, f.adler32),
              h('td', {}, (f.diagnostics || []).length ? (f.diagnostics || []).join('; ') : '—'))))),
        gr.fileCount > files.length ? h('p', {class: 'muted'}, `Showing ${files.length} of ${gr.fileCount}.`) : null),
      examples(g));
    await load(true);
  }

  // browseLink names a node by what tells it apart: the name inside its
  // package in full, the package path after it, muted (long generated
  // names differ at their end, which a cut-off full name hides).
  function browseLink(g, n) {
    const short = shortName(n);
    const pkg = n.qualifiedName.slice(0, n.qualifiedName.length - short.length).replace(/\.$/, '');
    return h('a', {href: nodeHref(g, n.id), dataset: {id: n.id, qn: n.qualifiedName}, title: n.qualifiedName},
      h('span', {class: `kind ${n.kind}`, 'aria-label': n.kind.toLowerCase()}, n.kind[0]),
      h('span', {class: 'qn short'}, short), pkg ? h('span', {class: 'pkg'}, pkg) : null);
  }

  function nodeLink(g, n, extra) {
    return h('a', Object.assign({href: nodeHref(g, n.id), dataset: {id: n.id, qn: n.qualifiedName}, title: n.qualifiedName}, extra || {}),
      h('span', {class: `kind ${n.kind}`, 'aria-label': n.kind.toLowerCase()}, n.kind[0]), h('span', {class: 'qn'}, n.qualifiedName));
  }

  // ---------------------------------------------------------------- search

  let searchTimer = 0;
  let searchSeq = 0;
  let results = [];
  let active = -1;

  function closeResults() {
    const list = $('#search-results');
    list.hidden = true;
    list.replaceChildren();
    $('#search').setAttribute('aria-expanded', 'false');
    $('#search').removeAttribute('aria-activedescendant');
    results = [];
    active = -1;
  }

  async function runSearch(q) {
    const seq = ++searchSeq;
    // Query.search matches bare names and dotted qualified-name suffixes
    // (Coordinator.Put, (*Coordinator).Put), best matches first.
    const d = await gql(`query($q: String!, $gs: [ID!]) { search(query: $q, graphs: $gs, first: 20) { ${NODE_FIELDS} graph { id } } }`,
      {q, gs: app.graph ? [app.graph] : null});
    const found = d.search.map((n) => ({g: n.graph.id, n}));
    if (seq !== searchSeq) return;
    showResults(found, q);
  }

  function showResults(found, q) {
    const list = $('#search-results');
    const input = $('#search');
    results = found;
    active = -1;
    input.removeAttribute('aria-activedescendant');
    if (!found.length) {
      list.replaceChildren(h('li', {class: 'empty', role: 'option', 'aria-disabled': 'true', id: 'sr-empty'}, `No node matches “${q}”`));
    } else {
      list.replaceChildren(...found.map((r, i) => h('li', {
        role: 'option', id: `sr-${i}`, 'aria-selected': 'false', dataset: {id: r.n.id, qn: r.n.qualifiedName, graph: r.g},
        onmousedown: (ev) => { ev.preventDefault(); choose(i); },
      },
      h('span', {class: `kind ${r.n.kind}`}, r.n.kind.toLowerCase()),
      h('span', {class: 'qn'}, r.n.qualifiedName),
      h('span', {class: 'loc'}, [app.graph ? '' : r.g + ' · ', where(r.n) || '—']))));
    }
    list.hidden = false;
    input.setAttribute('aria-expanded', 'true');
  }

  function highlight(i) {
    const items = $$('#search-results [role=option]').filter((el) => el.id !== 'sr-empty');
    if (!items.length) return;
    active = (i + items.length) % items.length;
    items.forEach((el, j) => el.setAttribute('aria-selected', j === active ? 'true' : 'false'));
    items[active].scrollIntoView({block: 'nearest'});
    $('#search').setAttribute('aria-activedescendant', items[active].id);
  }

  function choose(i) {
    const r = results[i];
    if (!r) return;
    closeResults();
    $('#search').value = '';
    window.location.hash = nodeHref(r.g, r.n.id);
    $('#main').focus();
  }

  function setupSearch() {
    const input = $('#search');
    input.addEventListener('input', () => {
      clearTimeout(searchTimer);
      const q = input.value.trim();
      if (!q) { searchSeq++; closeResults(); return; }
      searchTimer = setTimeout(() => runSearch(q).catch((e) => toast('search failed: ' + e.message)), 180);
    });
    input.addEventListener('keydown', (ev) => {
      const open = !$('#search-results').hidden;
      switch (ev.key) {
        case 'ArrowDown':
          ev.preventDefault();
          if (open) highlight(active + 1);
          break;
        case 'ArrowUp':
          ev.preventDefault();
          if (open) highlight(active < 0 ? -1 : active - 1);
          break;
        case 'Enter':
          ev.preventDefault();
          if (open && results.length) choose(active < 0 ? 0 : active);
          break;
        case 'Escape':
          if (open) { ev.preventDefault(); closeResults(); } else input.value = '';
          break;
      }
    });
    input.addEventListener('blur', () => setTimeout(() => { if (document.activeElement !== input) closeResults(); }, 150));
    $('#search-form').addEventListener('submit', (ev) => ev.preventDefault());
    document.addEventListener('keydown', (ev) => {
      if (ev.key === '/' && !/^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName) && !$('#export-dialog').open) {
        ev.preventDefault();
        input.focus();
      }
    });
  }

  // ---------------------------------------------------------------- node page

  const CLASS_RELATIONS = ['INHERITANCE', 'COMPOSITION', 'AGGREGATION', 'ASSOCIATION', 'LINK', 'DEPENDENCY', 'REALIZATION', 'DASHED_LINK'];
  // Headings of the edge groups, by relation and direction.
  const GROUPS = [
    ['CALLS', 'IN', 'Callers'], ['CALLS', 'OUT', 'Callees'],
    ['READS', 'OUT', 'Reads'], ['WRITES', 'OUT', 'Writes'], ['REFERENCES', 'OUT', 'References'],
    ['READS', 'IN', 'Readers'], ['WRITES', 'IN', 'Writers'], ['REFERENCES', 'IN', 'Referenced by'],
    ['INHERITANCE', 'OUT', 'Inherits (embeds)'], ['INHERITANCE', 'IN', 'Inherited by'],
    ['REALIZATION', 'OUT', 'Realizes (implements)'], ['REALIZATION', 'IN', 'Realized by'],
    ['COMPOSITION', 'OUT', 'Composes'], ['COMPOSITION', 'IN', 'Composed into'],
    ['AGGREGATION', 'OUT', 'Aggregates'], ['AGGREGATION', 'IN', 'Aggregated by'],
    ['ASSOCIATION', 'OUT', 'Associated with'], ['ASSOCIATION', 'IN', 'Associated from'],
    ['DEPENDENCY', 'OUT', 'Depends on'], ['DEPENDENCY', 'IN', 'Depended on by'],
    ['LINK', 'OUT', 'Links to'], ['LINK', 'IN', 'Linked from'],
    ['DASHED_LINK', 'OUT', 'Aliases'], ['DASHED_LINK', 'IN', 'Aliased by'],
  ];
  // A busy node's two-hop neighbourhood is hundreds of nodes: the picture
  // draws MAX_NODES, nearest first, and lists the rest by relation with a
  // link that draws them all (up to MAX_NODES_ALL).
  const MAX_NODES = 40;
  const MAX_NODES_ALL = 400;
  const EDGE_FIELDS = `relation dynamic line column file { path } node { ${NODE_FIELDS} }`;

  async function nodeView(g, id, depth, token, all) {
    const data = await gql(`query($g: ID!, $id: ID!) { graph(id: $g) { id node(id: $id) {
      ${NODE_FIELDS} endLine file { name path md5 adler32 language }
      out: edges(direction: OUT) { ${EDGE_FIELDS} }
      in: edges(direction: IN) { ${EDGE_FIELDS} } } } }`, {g, id});
    if (token !== app.token) return;
    const node = data.graph && data.graph.node;
    if (!node) {
      document.title = 'Not found · Grafo';
      $('#main').replaceChildren(h('h1', {}, 'Node not found'),
        h('p', {}, 'It may have been deleted. ', h('a', {href: graphHref(g)}, `Back to ${g}`)));
      return;
    }
    const hood = await neighbourhood(g, node, depth, all ? MAX_NODES_ALL : MAX_NODES);
    if (token !== app.token) return;
    app.neighbourhood = Object.assign(hood, {graph: g, depth});
    document.title = `${node.name} · ${g} · Grafo`;

    const groups = h('div', {class: 'relations'});
    for (const [rel, dir, title] of GROUPS) {
      const edges = (dir === 'IN' ? node.in : node.out).filter((e) => e.relation === rel);
      if (!edges.length) continue;
      edges.sort((a, b) => a.node.qualifiedName.localeCompare(b.node.qualifiedName) || (a.line || 0) - (b.line || 0));
      const hid = `rel-${rel}-${dir}`;
      groups.append(h('section', {'aria-labelledby': hid, dataset: {rel, dir}},
        h('h3', {id: hid}, `${title} (${edges.length})`),
        h('ul', {}, edges.map((e) => h('li', {},
          nodeLink(g, e.node),
          e.dynamic ? [' ', h('span', {class: 'dyn', title: 'resolved through an interface or function value'}, 'dynamic')] : null,
          e.file || e.line ? [' ', h('span', {class: 'site'}, `at ${e.file ? e.file.path : ''}${e.line ? ':' + e.line : ''}${e.column ? ':' + e.column : ''}`)] : null)))));
    }
    if (!groups.children.length) groups.append(h('p', {class: 'muted'}, 'No edges.'));

    const f = node.file;
    const depthPicker = h('fieldset', {},
      h('legend', {}, 'Hops'),
      [1, 2, 3].map((d) => h('label', {}, h('input', {type: 'radio', name: 'depth', value: d, checked: d === depth,
        onchange: () => { window.location.hash = nodeHref(g, node.id, d); }}), ` ${d}`)));
    const svg = drawGraph(g, hood);
    $('#main').replaceChildren(
      h('p', {class: 'crumbs'}, h('a', {href: '#/'}, 'Graphs'), ' / ', h('a', {href: graphHref(g)}, g), ' /'),
      h('h1', {id: 'node-title'}, h('span', {class: `kind ${node.kind}`}, node.kind.toLowerCase()), ' ', node.name),
      h('div', {class: 'node-layout'},
        h('div', {},
          h('section', {class: 'panel', 'aria-labelledby': 'facts-title'},
            h('h2', {id: 'facts-title', class: 'visually-hidden'}, 'Facts'),
            h('dl', {class: 'facts'},
              h('dt', {}, 'Qualified name'), h('dd', {class: 'mono', id: 'node-qn'}, node.qualifiedName),
              h('dt', {}, 'Kind'), h('dd', {}, node.kind.toLowerCase() + (node.external ? ' (external)' : '')),
              h('dt', {}, 'Defined at'), h('dd', {class: 'mono'}, f ? `${f.path}${node.line ? ':' + node.line : ''}${node.endLine ? '–' + node.endLine : ''}` : (node.external ? 'outside the ingested tree' : '—')),
              f ? [h('dt', {}, 'Language'), h('dd', {}, f.language || '—'),
                h('dt', {}, 'MD5'), h('dd', {class: 'mono', id: 'file-md5'}, f.md5),
                h('dt', {}, 'Adler-32'), h('dd', {class: 'mono', id: 'file-adler32'}, f.adler32)] : null)),
          h('section', {class: 'panel', 'aria-labelledby': 'edges-title'},
            h('h2', {id: 'edges-title'}, 'Relations'), groups)),
        h('section', {class: 'picture', 'aria-labelledby': 'pic-title'},
          h('div', {class: 'toolbar'},
            h('h2', {id: 'pic-title', class: 'visually-hidden'}, 'Neighbourhood'),
            depthPicker,
            h('span', {class: 'muted', id: 'hood-size'}, `${plural(hood.nodes.size, 'node')}, ${plural(hood.edges.length, 'edge')}`),
            omittedNote(g, node, depth, hood, all),
            h('span', {class: 'spacer'}),
            h('button', {type: 'button', 'aria-label': 'Zoom in', onclick: () => svg.zoomBy(1.25)}, '+'),
            h('button', {type: 'button', 'aria-label': 'Zoom out', onclick: () => svg.zoomBy(0.8)}, '−'),
            h('button', {type: 'button', onclick: () => svg.fit()}, 'Fit'),
            h('button', {type: 'button', id: 'export-btn', class: 'primary', onclick: () => openExport()}, 'Export…')),
          svg.el,
          legend())));
  }

  // omittedNote says what the picture left out, by relation, and links
  // to the picture with everything.
  function omittedNote(g, node, depth, hood, all) {
    if (!hood.truncated) return null;
    const parts = Array.from(hood.omitted.entries()).sort((a, b) => b[1] - a[1]).map(([key, n]) => {
      const [rel, dir] = key.split(' ');
      const grp = GROUPS.find(([r, d]) => r === rel && d === dir);
      return `${n} ${(grp ? grp[2] : rel).toLowerCase()}`;
    });
    const href = nodeHref(g, node.id, depth) + (depth !== 1 ? '&' : '?') + 'all=1';
    return h('span', {class: 'omitted', id: 'hood-omitted'}, `Not drawn: ${parts.join(', ')}. `,
      all ? null : h('a', {href, id: 'hood-all'}, 'Draw all'));
  }

  // neighbourhood walks up to depth hops from node over every relation,
  // both directions, fetching the frontier in batches through aliases. It
  // keeps at most limit nodes, nearest first, and counts the others by
  // relation and direction (omitted).
  async function neighbourhood(g, node, depth, limit) {
    const nodes = new Map([[node.id, Object.assign({}, node, {hop: 0})]]);
    const edges = new Map(); // from|rel|to → edge
    const omitted = new Map(); // "REL DIR" → nodes left out
    let truncated = false;
    const add = (center, e, dir) => {
      const [from, to] = dir === 'OUT' ? [center, e.node.id] : [e.node.id, center];
      const key = `${from}|${e.relation}|${to}`;
      if (!edges.has(key)) edges.set(key, {from, to, relation: e.relation, dynamic: e.dynamic});
    };
    const visit = (center, list, dir, hop, next) => {
      for (const e of list) {
        if (!nodes.has(e.node.id)) {
          if (hop > depth) continue;
          if (nodes.size >= limit) {
            truncated = true;
            const key = `${e.relation} ${dir}`;
            omitted.set(key, (omitted.get(key) || 0) + 1);
            continue;
          }
          nodes.set(e.node.id, Object.assign({}, e.node, {hop}));
          next.push(e.node.id);
        }
        add(center, e, dir);
      }
    };
    let frontier = [];
    visit(node.id, node.out, 'OUT', 1, frontier);
    visit(node.id, node.in, 'IN', 1, frontier);
    for (let hop = 2; hop <= depth + 1 && frontier.length; hop++) {
      // The last round (hop = depth+1) only adds edges between nodes
      // already in the picture.
      const next = [];
      for (let i = 0; i < frontier.length; i += 20) {
        const batch = frontier.slice(i, i + 20);
        const fields = batch.map((id, j) => `n${j}: node(id: ${JSON.stringify(id)}) { id
          out: edges(direction: OUT) { relation dynamic node { ${NODE_FIELDS} } }
          in: edges(direction: IN) { relation dynamic node { ${NODE_FIELDS} } } }`).join('\n');
        const d = await gql(`query($g: ID!) { graph(id: $g) { ${fields} } }`, {g});
        batch.forEach((id, j) => {
          const n = d.graph && d.graph[`n${j}`];
          if (!n) return;
          visit(id, n.out, 'OUT', hop, next);
          visit(id, n.in, 'IN', hop, next);
        });
      }
      frontier = next;
    }
    return {graph: g, center: node.id, nodes, edges: Array.from(edges.values()), truncated, omitted};
  }

  // ---------------------------------------------------------------- picture

  // Edge ends by relation, after Mermaid's class diagrams: the marker at the
  // target (end) or at the source (start).
  const MARKERS = {
    CALLS: {end: 'arrow-calls'},
    READS: {end: 'arrow-var'},
    WRITES: {end: 'arrow-write'},
    REFERENCES: {end: 'arrow-var'},
    INHERITANCE: {end: 'triangle'},
    REALIZATION: {end: 'triangle'},
    COMPOSITION: {start: 'diamond-filled'},
    AGGREGATION: {start: 'diamond-hollow'},
    ASSOCIATION: {end: 'arrow-open'},
    DEPENDENCY: {end: 'arrow-open'},
    LINK: {},
    DASHED_LINK: {},
  };

  function markerDefs() {
    const m = (id, w, hgt, refX, refY, ...children) => s('marker', {id, viewBox: `0 0 ${w} ${hgt}`, refX, refY,
      markerWidth: w, markerHeight: hgt, orient: 'auto-start-reverse', markerUnits: 'userSpaceOnUse'}, ...children);
    return s('defs', {},
      m('arrow-calls', 10, 10, 9, 5, s('path', {d: 'M0,0 L10,5 L0,10 z', class: 'mk-calls'})),
      m('arrow-var', 10, 10, 9, 5, s('path', {d: 'M0,0 L10,5 L0,10 z', class: 'mk-var'})),
      m('arrow-write', 10, 10, 9, 5, s('path', {d: 'M0,0 L10,5 L0,10 z', class: 'mk-write'})),
      m('arrow-open', 12, 12, 11, 6, s('path', {d: 'M1,1 L11,6 L1,11', class: 'mk-open'})),
      m('triangle', 16, 14, 15, 7, s('path', {d: 'M1,1 L15,7 L1,13 z', class: 'mk-hollow'})),
      // Diamonds point away from the edge at the source end: with
      // auto-start-reverse the shape is drawn as for an end marker.
      m('diamond-filled', 20, 12, 19, 6, s('path', {d: 'M1,6 L10,1 L19,6 L10,11 z', class: 'mk-class'})),
      m('diamond-hollow', 20, 12, 19, 6, s('path', {d: 'M1,6 L10,1 L19,6 L10,11 z', class: 'mk-hollow'})));
  }

  function legend() {
    const kinds = [['FUNCTION', 'function'], ['CLASS', 'class'], ['VARIABLE', 'variable']];
    const rels = [['CALLS', 'calls'], ['INHERITANCE', 'inheritance'], ['REALIZATION', 'realization'], ['COMPOSITION', 'composition'],
      ['AGGREGATION', 'aggregation'], ['DEPENDENCY', 'dependency'], ['ASSOCIATION', 'association'], ['READS', 'reads'], ['WRITES', 'writes']];
    return h('ul', {class: 'legend', 'aria-label': 'Legend'},
      kinds.map(([k, t]) => h('li', {}, h('span', {class: `sw ${k}`}), t)),
      rels.map(([r, t]) => {
        const mk = MARKERS[r];
        const svg = s('svg', {class: 'graph-legend', width: 44, height: 14, 'aria-hidden': 'true'},
          s('path', {class: `gedge ${r}`, d: mk.start ? 'M40,7 L4,7' : 'M2,7 L36,7', 'marker-end': mk.end ? `url(#${mk.end})` : null,
            'marker-start': mk.start ? `url(#${mk.start})` : null}));
        return h('li', {}, svg, ' ', t);
      }));
  }
  // layout places the nodes with a small force simulation, started from
  // rings by hop so the result is the same on every load.
  function layout(hood) {
    const ids = Array.from(hood.nodes.keys()).sort((a, b) => {
      const na = hood.nodes.get(a), nb = hood.nodes.get(b);
      return na.hop - nb.hop || na.qualifiedName.localeCompare(nb.qualifiedName);
    });
    const pos = new Map();
    const byHop = new Map();
    for (const id of ids) {
      const hop = hood.nodes.get(id).hop;
      if (!byHop.has(hop)) byHop.set(hop, []);
      byHop.get(hop).push(id);
    }
    for (const [hop, list] of byHop) {
      list.forEach((id, i) => {
        const a = (2 * Math.PI * i) / list.length + hop * 0.6;
        const r = hop * 190;
        pos.set(id, {x: r * Math.cos(a), y: r * Math.sin(a), vx: 0, vy: 0});
      });
    }
    const links = hood.edges.filter((e) => pos.has(e.from) && pos.has(e.to) && e.from !== e.to);
    const n = ids.length;
    const iterations = n > 40 ? 220 : 320;
    for (let it = 0; it < iterations; it++) {
      const cool = 1 - it / iterations;
      for (let i = 0; i < n; i++) {
        const p = pos.get(ids[i]);
        for (let j = i + 1; j < n; j++) {
          const q = pos.get(ids[j]);
          let dx = p.x - q.x, dy = p.y - q.y;
          let d2 = dx * dx + dy * dy;
          if (d2 < 1) { dx = (i - j) * 0.5 + 0.1; dy = 0.3; d2 = dx * dx + dy * dy; }
          const f = 60000 / d2;
          const d = Math.sqrt(d2);
          p.vx += (dx / d) * f; p.vy += (dy / d) * f * 1.6;
          q.vx -= (dx / d) * f; q.vy -= (dy / d) * f * 1.6;
        }
      }
      for (const e of links) {
        const p = pos.get(e.from), q = pos.get(e.to);
        const dx = q.x - p.x, dy = q.y - p.y;
        const d = Math.sqrt(dx * dx + dy * dy) || 1;
        const f = (d - 200) * 0.05;
        p.vx += (dx / d) * f; p.vy += (dy / d) * f;
        q.vx -= (dx / d) * f; q.vy -= (dy / d) * f;
      }
      for (const id of ids) {
        const p = pos.get(id);
        p.vx -= p.x * 0.01; p.vy -= p.y * 0.01; // gravity to the centre
        const step = Math.min(30 * cool + 1, Math.sqrt(p.vx * p.vx + p.vy * p.vy));
        const len = Math.sqrt(p.vx * p.vx + p.vy * p.vy) || 1;
        if (id !== hood.center) { p.x += (p.vx / len) * step; p.y += (p.vy / len) * step; }
        p.vx = 0; p.vy = 0;
      }
    }
    return pos;
  }

  // shortName is the qualified name without its import path: run,
  // Circle.Area, Canvas.shapes.
  function shortName(n) {
    const tail = n.qualifiedName.slice(n.qualifiedName.lastIndexOf('/') + 1);
    const dot = tail.indexOf('.');
    return dot >= 0 && tail.endsWith(n.name) ? tail.slice(dot + 1) : n.name;
  }

  function nodeBox(n) {
    const name = shortName(n);
    const label = name.length > 28 ? name.slice(0, 27) + '…' : name;
    return {label, w: Math.max(44, label.length * 7.2 + 20), h: 28};
  }

  // clip returns where the segment from the centre of box a towards point
  // (tx, ty) leaves the box.
  function clip(a, box, tx, ty) {
    const dx = tx - a.x, dy = ty - a.y;
    if (!dx && !dy) return {x: a.x, y: a.y};
    const sx = dx ? (box.w / 2 + 3) / Math.abs(dx) : Infinity;
    const sy = dy ? (box.h / 2 + 3) / Math.abs(dy) : Infinity;
    const t = Math.min(sx, sy, 1);
    return {x: a.x + dx * t, y: a.y + dy * t};
  }

  function drawGraph(g, hood) {
    const pos = layout(hood);
    const boxes = new Map();
    for (const [id, n] of hood.nodes) boxes.set(id, nodeBox(n));
    const edgeLayer = s('g', {class: 'edges'});
    const nodeLayer = s('g', {class: 'nodes'});
    const viewport = s('g', {class: 'viewport'}, edgeLayer, nodeLayer);
    const svg = s('svg', {class: 'graph', id: 'graph-svg', role: 'group', 'aria-label': `Neighbourhood of ${hood.nodes.get(hood.center).qualifiedName}: drag to pan, wheel to zoom, Tab to a node and Enter to open it`},
      markerDefs(), viewport);

    // Parallel edges between the same pair bend apart.
    const pairCount = new Map();
    for (const e of hood.edges) {
      const k = [e.from, e.to].sort().join('|');
      pairCount.set(k, (pairCount.get(k) || 0) + 1);
    }
    const pairSeen = new Map();
    for (const e of hood.edges) {
      const a = pos.get(e.from), b = pos.get(e.to);
      if (!a || !b) continue;
      const mk = MARKERS[e.relation] || {};
      let d;
      if (e.from === e.to) {
        const bx = boxes.get(e.from);
        d = `M${a.x + bx.w / 2 - 6},${a.y - bx.h / 2} c 30,-40 50,0 ${-bx.w / 2 + 10},${bx.h / 2 - 4}`;
      } else {
        const k = [e.from, e.to].sort().join('|');
        const idx = pairSeen.get(k) || 0;
        pairSeen.set(k, idx + 1);
        const total = pairCount.get(k);
        const bend = total > 1 ? (idx - (total - 1) / 2) * 36 * (e.from < e.to ? 1 : -1) : 0;
        const mx = (a.x + b.x) / 2, my = (a.y + b.y) / 2;
        const len = Math.hypot(b.x - a.x, b.y - a.y) || 1;
        const cx = mx - ((b.y - a.y) / len) * bend, cy = my + ((b.x - a.x) / len) * bend;
        const p = clip(a, boxes.get(e.from), cx, cy);
        const q = clip(b, boxes.get(e.to), cx, cy);
        d = bend ? `M${p.x.toFixed(1)},${p.y.toFixed(1)} Q${cx.toFixed(1)},${cy.toFixed(1)} ${q.x.toFixed(1)},${q.y.toFixed(1)}`
          : `M${p.x.toFixed(1)},${p.y.toFixed(1)} L${q.x.toFixed(1)},${q.y.toFixed(1)}`;
      }
      const from = hood.nodes.get(e.from), to = hood.nodes.get(e.to);
      edgeLayer.append(s('path', {
        class: `gedge ${e.relation}${e.dynamic ? ' dynamic' : ''}`, d,
        'marker-end': mk.end ? `url(#${mk.end})` : null,
        'marker-start': mk.start ? `url(#${mk.start})` : null,
        dataset: {from: from.qualifiedName, to: to.qualifiedName, rel: e.relation},
      }, s('title', {}, `${from.name} ${e.relation.toLowerCase().replace(/_/g, ' ')} ${to.name}`)));
    }
    const ordered = Array.from(hood.nodes.values()).sort((a, b) => a.hop - b.hop || a.qualifiedName.localeCompare(b.qualifiedName));
    for (const n of ordered) {
      const p = pos.get(n.id), box = boxes.get(n.id);
      const open = () => { window.location.hash = nodeHref(g, n.id); };
      const el = s('g', {
        class: `gnode ${n.kind}${n.external ? ' external' : ''}${n.id === hood.center ? ' center' : ''}`,
        transform: `translate(${p.x.toFixed(1)},${p.y.toFixed(1)})`,
        tabindex: 0, role: 'link', 'aria-label': `${n.kind.toLowerCase()} ${n.qualifiedName}`,
        dataset: {id: n.id, qn: n.qualifiedName},
      },
      s('title', {}, `${n.qualifiedName}${n.file ? ' — ' + where(n) : ''}`),
      s('rect', {x: -box.w / 2, y: -box.h / 2, width: box.w, height: box.h, rx: n.kind === 'FUNCTION' ? 14 : n.kind === 'VARIABLE' ? 4 : 2}),
      s('text', {'text-anchor': 'middle', 'dominant-baseline': 'central'}, box.label));
      el.addEventListener('click', (ev) => { if (!moved) open(); ev.stopPropagation(); });
      el.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); open(); } });
      nodeLayer.append(el);
    }

    // Pan and zoom: the viewport group carries translate + scale.
    let tx = 0, ty = 0, k = 1;
    let moved = false;
    const apply = () => viewport.setAttribute('transform', `translate(${tx.toFixed(1)},${ty.toFixed(1)}) scale(${k.toFixed(3)})`);
    function fit() {
      const r = svg.getBoundingClientRect();
      const W = r.width || 800, H = r.height || 600;
      let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
      for (const [id, p] of pos) {
        const b = boxes.get(id);
        minX = Math.min(minX, p.x - b.w / 2); maxX = Math.max(maxX, p.x + b.w / 2);
        minY = Math.min(minY, p.y - b.h / 2); maxY = Math.max(maxY, p.y + b.h / 2);
      }
      const pad = 40;
      k = Math.min(1.6, Math.min(W / (maxX - minX + 2 * pad), H / (maxY - minY + 2 * pad)));
      tx = W / 2 - ((minX + maxX) / 2) * k;
      ty = H / 2 - ((minY + maxY) / 2) * k;
      apply();
    }
    function zoomAt(factor, cx, cy) {
      const nk = Math.min(6, Math.max(0.15, k * factor));
      tx = cx - ((cx - tx) * nk) / k;
      ty = cy - ((cy - ty) * nk) / k;
      k = nk;
      apply();
    }
    function zoomBy(factor) {
      const r = svg.getBoundingClientRect();
      zoomAt(factor, r.width / 2, r.height / 2);
    }
    svg.addEventListener('wheel', (ev) => {
      ev.preventDefault();
      const r = svg.getBoundingClientRect();
      zoomAt(Math.exp(-ev.deltaY * 0.0015), ev.clientX - r.left, ev.clientY - r.top);
    }, {passive: false});
    let drag = null;
    svg.addEventListener('pointerdown', (ev) => {
      if (ev.button !== 0) return;
      drag = {x: ev.clientX, y: ev.clientY, tx, ty};
      moved = false;
    });
    svg.addEventListener('pointermove', (ev) => {
      if (!drag) return;
      const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (!moved && Math.hypot(dx, dy) < 4) return;
      if (!moved) { moved = true; svg.classList.add('dragging'); svg.setPointerCapture(ev.pointerId); }
      tx = drag.tx + dx; ty = drag.ty + dy;
      apply();
    });
    const end = (ev) => {
      if (!drag) return;
      drag = null;
      svg.classList.remove('dragging');
      if (svg.hasPointerCapture(ev.pointerId)) svg.releasePointerCapture(ev.pointerId);
      setTimeout(() => { moved = false; }, 0);
    };
    svg.addEventListener('pointerup', end);
    svg.addEventListener('pointercancel', end);
    svg.addEventListener('keydown', (ev) => {
      const step = 40;
      if (ev.target !== svg && !ev.key.startsWith('Arrow') && ev.key !== '+' && ev.key !== '-') return;
      switch (ev.key) {
        case 'ArrowLeft': tx += step; break;
        case 'ArrowRight': tx -= step; break;
        case 'ArrowUp': ty += step; break;
        case 'ArrowDown': ty -= step; break;
        case '+': case '=': zoomBy(1.25); return;
        case '-': zoomBy(0.8); return;
        default: return;
      }
      ev.preventDefault();
      apply();
    });
    // Fit once the SVG is in the document and has a size.
    requestAnimationFrame(fit);
    apply();
    return {el: svg, fit, zoomBy};
  }

  // ---------------------------------------------------------------- export

  // The text comes from the server (GraphQL Node.export), the one exporter
  // the CLI and agents use too; the three formats are fetched together so
  // switching between them is immediate.
  const EXPORT_FORMATS = {flowchart: 'MERMAID_FLOWCHART', class: 'MERMAID_CLASS', dot: 'DOT'};
  let exported = {};

  async function fetchExport(hood) {
    const fields = Object.entries(EXPORT_FORMATS).map(([k, f]) => `${k}: export(format: ${f}, depth: $d, limit: $l)`).join(' ');
    const data = await gql(`query($g: ID!, $id: ID!, $d: Int, $l: Int) { graph(id: $g) { node(id: $id) { ${fields} } } }`,
      {g: hood.graph, id: hood.center, d: hood.depth, l: MAX_NODES});
    const node = data.graph && data.graph.node;
    if (!node) throw new Error('the node is gone');
    return node;
  }

  function exportText(format) {
    return exported[format] || '';
  }

  async function openExport() {
    const hood = app.neighbourhood;
    if (!hood) return;
    try {
      exported = await fetchExport(hood);
    } catch (e) {
      toast(`Export failed: ${e.message}`);
      return;
    }
    const dialog = $('#export-dialog');
    const center = hood && hood.nodes.get(hood.center);
    const hasClass = hood && hood.edges.some((e) => CLASS_RELATIONS.includes(e.relation));
    const format = center && center.kind === 'CLASS' && hasClass ? 'class' : 'flowchart';
    for (const r of $$('input[name=format]', dialog)) r.checked = r.value === format;
    $('#export-text').value = exportText(format);
    dialog.showModal();
    $('#export-text').focus();
    $('#export-text').select();
  }

  function setupExport() {
    const dialog = $('#export-dialog');
    for (const r of $$('input[name=format]', dialog)) {
      r.addEventListener('change', () => { $('#export-text').value = exportText(r.value); });
    }
    $('#export-copy').addEventListener('click', async () => {
      const text = $('#export-text').value;
      try {
        await navigator.clipboard.writeText(text);
        toast('Copied to the clipboard');
      } catch (e) {
        $('#export-text').select();
        toast('Copy was refused by the browser: press Ctrl+C');
      }
    });
    $('#export-download').addEventListener('click', () => {
      const format = ($('input[name=format]:checked', dialog) || {}).value || 'flowchart';
      const blob = new Blob([$('#export-text').value], {type: 'text/plain'});
      const a = h('a', {href: URL.createObjectURL(blob), download: `neighbourhood.${format === 'dot' ? 'dot' : 'mmd'}`});
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    });
  }

  // ---------------------------------------------------------------- cluster

  // effectiveNote: with fewer nodes owning ranges than N, a key has fewer
  // copies and the quorums shrink with it (a single node: N=W=R=1).
  function effectiveNote(c, nodes) {
    const ring = nodes.filter((n) => n.state !== 'joining').length;
    const n = Math.min(c.replicas, ring);
    if (!ring || n >= c.replicas) return null;
    return h('span', {class: 'muted', id: 'cluster-effective'},
      ` — effective N=${n} W=${Math.min(c.writeQuorum, n)} R=${Math.min(c.readQuorum, n)} with ${plural(ring, 'node')} in the ring`);
  }

  async function clusterView(token) {
    const q = `{ cluster { replicas writeQuorum readQuorum leader hintsPending rebalancing
      nodes { id http cluster weight state vnodes keys lastContact } } }`;
    let c;
    let source = 'GraphQL';
    try {
      c = (await gql(q)).cluster;
    } catch (e) {
      const res = await fetch('/v1/cluster', {headers: authHeaders({Accept: 'application/json'})});
      if (!res.ok) throw new Error(`cluster status unavailable: ${e.message}; GET /v1/cluster answered ${res.status}`);
      c = await res.json();
      source = 'GET /v1/cluster';
    }
    if (token !== app.token) return;
    document.title = 'Cluster · Grafo';
    const nodes = (c.nodes || []).slice().sort((a, b) => String(a.id).localeCompare(String(b.id)));
    const totalVnodes = nodes.reduce((t, n) => t + (n.vnodes || 0), 0) || 1;
    $('#main').replaceChildren(
      h('h1', {}, 'Cluster'),
      h('section', {class: 'panel', 'aria-labelledby': 'ring-title'},
        h('h2', {id: 'ring-title'}, 'Ring'),
        h('dl', {class: 'facts', id: 'cluster-facts'},
          h('dt', {}, 'Members'), h('dd', {}, nodes.length),
          h('dt', {}, 'Replicas (N)'), h('dd', {}, c.replicas, effectiveNote(c, nodes)),
          h('dt', {}, 'Write quorum (W)'), h('dd', {}, c.writeQuorum),
          h('dt', {}, 'Read quorum (R)'), h('dd', {}, c.readQuorum),
          h('dt', {}, 'Leader'), h('dd', {}, c.leader || '—'),
          h('dt', {}, 'Hints pending'), h('dd', {}, c.hintsPending),
          h('dt', {}, 'Rebalancing'), h('dd', {}, c.rebalancing ? 'yes, ranges are moving' : 'no')),
        h('p', {class: 'muted'}, `From ${source}. `, h('button', {type: 'button', onclick: () => { app.token++; clusterView(app.token).catch((e) => toast(e.message)); }}, 'Refresh'))),
      h('section', {class: 'panel', 'aria-labelledby': 'members-title'},
        h('h2', {id: 'members-title'}, 'Members'),
        h('table', {id: 'cluster-nodes'},
          h('thead', {}, h('tr', {}, ['Node', 'State', 'Public', 'Cluster', 'Weight', 'Vnodes', 'Ring share', 'Keys', 'Last contact']
            .map((t, i) => h('th', {scope: 'col', class: i >= 4 && i <= 7 ? 'num' : null}, t)))),
          h('tbody', {}, nodes.map((n) => h('tr', {dataset: {node: n.id}},
            h('th', {scope: 'row'}, n.id, n.id === c.leader ? h('span', {class: 'muted'}, ' (leader)') : null),
            h('td', {}, h('span', {class: `chip state-${n.state}`}, n.state)),
            h('td', {class: 'mono'}, n.http), h('td', {class: 'mono'}, n.cluster),
            h('td', {class: 'num'}, n.weight), h('td', {class: 'num'}, n.vnodes),
            h('td', {class: 'num'}, `${(100 * (n.vnodes || 0) / totalVnodes).toFixed(1)}%`),
            h('td', {class: 'num'}, n.keys),
            h('td', {}, n.lastContact ? fmtTime(n.lastContact) : '—')))))),
      examples(null));
  }

  // ---------------------------------------------------------------- start

  window.addEventListener('hashchange', route);
  document.addEventListener('DOMContentLoaded', () => {
    setupSearch();
    setupExport();
    route();
  });
})();
