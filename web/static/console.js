// Grafo explorer: the offline query console. Plain JavaScript, no
// dependencies: a textarea editor that completes the schema's field names
// (learned from an introspection query to our own /graphql), JSON
// variables, and a formatted result. app.js calls window.grafoConsole.
'use strict';

(function () {
  const INTROSPECTION = `{ __schema { queryType { name } mutationType { name } subscriptionType { name }
    types { name kind description fields { name description args { name } type { ...T } } inputFields { name } enumValues { name } } } }
    fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }`;

  let schema = null; // {roots: {query, mutation, subscription}, types: Map name → {fields: Map name → {type, args, description}}}
  let schemaPromise = null;

  function named(t) {
    while (t && !t.name) t = t.ofType;
    return t ? t.name : null;
  }

  function loadSchema(gql) {
    if (!schemaPromise) {
      schemaPromise = gql(INTROSPECTION).then((d) => {
        const types = new Map();
        for (const t of d.__schema.types) {
          const fields = new Map();
          for (const f of t.fields || []) fields.set(f.name, {type: named(f.type), args: (f.args || []).map((a) => a.name), description: f.description || ''});
          types.set(t.name, {kind: t.kind, fields});
        }
        const r = d.__schema;
        schema = {types, roots: {
          query: r.queryType && r.queryType.name,
          mutation: r.mutationType && r.mutationType.name,
          subscription: r.subscriptionType && r.subscriptionType.name,
        }};
        return schema;
      }).catch((e) => { schemaPromise = null; throw e; });
    }
    return schemaPromise;
  }

  // context finds the type whose fields may be typed at the end of text:
  // it follows the selection sets opened so far (field { … }), skipping
  // strings, comments, arguments and variable definitions. null when the
  // cursor is not inside a selection set.
  function context(text) {
    const stack = [];
    let op = 'query';
    let last = null;      // the last field name seen at this level
    let parens = 0;
    const re = /"(?:[^"\\]|\\.)*"|#[^\n]*|\.\.\.\s*on\s+([_A-Za-z]\w*)|[_A-Za-z]\w*|[{}()]/g;
    let m;
    while ((m = re.exec(text))) {
      const tok = m[0];
      if (tok[0] === '"' || tok[0] === '#') continue;
      if (tok === '(') { parens++; continue; }
      if (tok === ')') { parens = Math.max(0, parens - 1); continue; }
      if (parens) continue;
      if (m[1]) { last = {fragment: m[1]}; continue; }
      if (tok === '{') {
        if (!stack.length) stack.push(schema.roots[op] || schema.roots.query);
        else {
          const cur = schema.types.get(stack[stack.length - 1]);
          let next = null;
          if (last && last.fragment) next = last.fragment;
          else if (last && cur && cur.fields.has(last)) next = cur.fields.get(last).type;
          stack.push(next);
        }
        last = null;
        continue;
      }
      if (tok === '}') { stack.pop(); last = null; continue; }
      if (!stack.length) {
        if (tok === 'query' || tok === 'mutation' || tok === 'subscription') op = tok;
        continue;
      }
      last = tok;
    }
    // Inside arguments (or before any selection set) fields do not apply.
    return stack.length && !parens ? stack[stack.length - 1] : null;
  }

  // completions lists the fields of the type at the cursor that start
  // with the word being typed.
  function completions(text, pos) {
    if (!schema) return {word: '', items: []};
    const before = text.slice(0, pos);
    const word = (/[_A-Za-z]\w*$/.exec(before) || [''])[0];
    const type = context(before.slice(0, before.length - word.length));
    const t = type && schema.types.get(type);
    if (!t) return {word, items: []};
    const items = Array.from(t.fields.entries())
      .filter(([name]) => name.startsWith(word) && !name.startsWith('__'))
      .map(([name, f]) => ({name, type: f.type, args: f.args, description: f.description}))
      .sort((a, b) => a.name.localeCompare(b.name));
    return {word, type, items};
  }

  function format(v) {
    return JSON.stringify(v, null, 2);
  }

  // view renders the console into main. h builds elements, gql runs a
  // document against /graphql, examples are [title, query, variables].
  function view({main, h, gql, examples, query, variables, toast}) {
    const editor = h('textarea', {id: 'console-query', class: 'mono', rows: 16, spellcheck: 'false', 'aria-label': 'GraphQL query',
      'aria-autocomplete': 'list', 'aria-controls': 'console-complete', autocomplete: 'off'});
    const vars = h('textarea', {id: 'console-vars', class: 'mono', rows: 5, spellcheck: 'false', 'aria-label': 'Variables (JSON)'});
    const out = h('pre', {id: 'console-result', class: 'mono', tabindex: 0, 'aria-live': 'polite'});
    const status = h('span', {id: 'console-status', class: 'muted'});
    const list = h('ul', {id: 'console-complete', role: 'listbox', 'aria-label': 'Fields', hidden: true});
    const schemaNote = h('p', {id: 'console-schema', class: 'muted'}, 'Loading the schema for completion…');
    editor.value = query || examples[0][1];
    vars.value = variables || (query ? '' : examples[0][2] || '');

    let items = [];
    let active = 0;
    let word = '';
    function closeList() { list.hidden = true; list.replaceChildren(); items = []; }
    function showList() {
      const c = completions(editor.value, editor.selectionStart);
      word = c.word;
      items = c.items;
      if (!items.length || (word === '' && editor.value[editor.selectionStart - 1] !== '{' && !/\s$/.test(editor.value.slice(0, editor.selectionStart)))) { closeList(); return; }
      active = 0;
      list.replaceChildren(...items.slice(0, 50).map((it, i) => h('li', {role: 'option', id: `cc-${i}`, 'aria-selected': i === 0 ? 'true' : 'false',
        dataset: {name: it.name}, onmousedown: (ev) => { ev.preventDefault(); accept(i); }},
      h('strong', {}, it.name), it.args.length ? `(${it.args.join(', ')})` : '', ' ', h('span', {class: 'muted'}, it.type || ''))));
      list.hidden = false;
    }
    function mark() {
      Array.from(list.children).forEach((li, i) => li.setAttribute('aria-selected', i === active ? 'true' : 'false'));
      if (list.children[active]) list.children[active].scrollIntoView({block: 'nearest'});
    }
    function accept(i) {
      const it = items[i];
      if (!it) return;
      const pos = editor.selectionStart;
      const start = pos - word.length;
      const t = schema.types.get(it.type);
      // A field of an object type needs a selection set: open one.
      const suffix = t && (t.kind === 'OBJECT' || t.kind === 'INTERFACE') ? ' {  }' : '';
      editor.setRangeText(it.name + suffix, start, pos, 'end');
      if (suffix) editor.selectionStart = editor.selectionEnd = start + it.name.length + 3;
      closeList();
      editor.focus();
    }

    async function run() {
      closeList();
      let v = {};
      const raw = vars.value.trim();
      if (raw) {
        try { v = JSON.parse(raw); } catch (e) { status.textContent = 'Variables are not valid JSON: ' + e.message; out.textContent = ''; return; }
      }
      if (/^\s*subscription\b/.test(editor.value)) {
        status.textContent = 'Subscriptions run over a websocket; the graph and node pages follow changes live.';
        return;
      }
      status.textContent = 'Running…';
      const t0 = performance.now();
      try {
        const data = await gql(editor.value, v);
        out.textContent = format({data});
        out.classList.remove('error');
        status.textContent = `OK in ${Math.round(performance.now() - t0)} ms`;
      } catch (e) {
        out.textContent = format({errors: e.message.split('; '), data: e.data === undefined ? null : e.data});
        out.classList.add('error');
        status.textContent = 'The query failed';
      }
    }

    editor.addEventListener('input', showList);
    editor.addEventListener('click', closeList);
    editor.addEventListener('blur', () => setTimeout(closeList, 150));
    editor.addEventListener('keydown', (ev) => {
      if ((ev.ctrlKey || ev.metaKey) && ev.key === 'Enter') { ev.preventDefault(); run(); return; }
      if (ev.ctrlKey && ev.key === ' ') { ev.preventDefault(); showList(); return; }
      if (list.hidden) return;
      switch (ev.key) {
        case 'ArrowDown': ev.preventDefault(); active = (active + 1) % Math.min(items.length, 50); mark(); break;
        case 'ArrowUp': ev.preventDefault(); active = (active + Math.min(items.length, 50) - 1) % Math.min(items.length, 50); mark(); break;
        case 'Tab': case 'Enter': ev.preventDefault(); accept(active); break;
        case 'Escape': ev.preventDefault(); closeList(); break;
      }
    });

    main.replaceChildren(
      h('h1', {}, 'Query console'),
      h('p', {class: 'muted'}, 'Runs GraphQL against this node only; nothing is loaded from the internet. ',
        'Ctrl+Enter runs, Ctrl+Space completes field names. ',
        h('a', {href: '/playground'}, 'GraphiQL'), ' (needs internet for its scripts) is an extra.'),
      h('div', {class: 'console'},
        h('section', {class: 'panel', 'aria-labelledby': 'cq-title'},
          h('h2', {id: 'cq-title'}, 'Query'),
          h('div', {class: 'editor'}, editor, list),
          schemaNote,
          h('h3', {}, h('label', {for: 'console-vars'}, 'Variables (JSON)')), vars,
          h('div', {class: 'actions'}, h('button', {type: 'button', id: 'console-run', class: 'primary', onclick: run}, 'Run'), ' ', status)),
        h('section', {class: 'panel', 'aria-labelledby': 'cr-title'},
          h('h2', {id: 'cr-title'}, 'Result'), out)),
      h('section', {class: 'panel examples', 'aria-labelledby': 'cx-title'},
        h('h2', {id: 'cx-title'}, 'Example queries'),
        h('ul', {id: 'console-examples'}, examples.map(([title, q, v]) => h('li', {},
          h('button', {type: 'button', class: 'link', onclick: () => { editor.value = q; vars.value = v || ''; out.textContent = ''; status.textContent = ''; editor.focus(); }}, title))))));

    loadSchema(gql).then((s) => {
      const q = s.types.get(s.roots.query);
      schemaNote.textContent = `Schema loaded: ${q ? q.fields.size : 0} query fields; completion is on.`;
      schemaNote.dataset.ready = 'true';
    }).catch((e) => { schemaNote.textContent = 'No completion: the schema did not load (' + e.message + ').'; });
  }

  window.grafoConsole = {view, completions, loadSchema};
})();
