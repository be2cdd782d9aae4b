-- Drives Neovim's built-in LSP client against `grafo lsp`: opens a file of
-- the workspace, sends the requests listed in $GRAFO_REQUESTS (JSON) at
-- the positions they name, and writes every answer to $GRAFO_RESULTS.
-- Positions are given as a 0-based line and a needle on it; the column
-- sent is the needle's start in UTF-16 code units, as the client counts.
local requests = vim.fn.json_decode(table.concat(vim.fn.readfile(os.getenv('GRAFO_REQUESTS')), '\n'))
local out = os.getenv('GRAFO_RESULTS')
local results = { log = {} }

local function finish()
  vim.fn.writefile({ vim.fn.json_encode(results) }, out)
  vim.cmd('qa!')
end

local ok, err = pcall(function()
  local root = requests.root
  local client_id = vim.lsp.start_client({
    cmd = requests.cmd,
    root_dir = root,
    flags = { debounce_text_changes = 0 },
    on_exit = function(code) table.insert(results.log, 'server exited ' .. code) end,
  })
  assert(client_id, 'start_client failed')
  vim.cmd('edit ' .. vim.fn.fnameescape(root .. '/' .. requests.file))
  local buf = vim.api.nvim_get_current_buf()
  vim.lsp.buf_attach_client(buf, client_id)
  local client = vim.lsp.get_client_by_id(client_id)
  assert(vim.wait(20000, function() return client.initialized end, 20), 'server did not initialize')
  results.offset_encoding = client.offset_encoding
  local uri = vim.uri_from_bufnr(buf)

  local function position(line, needle, nth)
    local text = vim.api.nvim_buf_get_lines(buf, line, line + 1, false)[1]
    local start = 0
    for _ = 1, (nth or 1) do
      start = assert(string.find(text, needle, start + 1, true), needle .. ' not on line ' .. line .. ': ' .. vim.inspect(text))
    end
    local _, col16 = vim.str_utfindex(text, start - 1) -- (UTF-32, UTF-16)
    return { textDocument = { uri = uri }, position = { line = line, character = col16 } }
  end

  local function request(method, params)
    local res, e = vim.lsp.buf_request_sync(buf, method, params, 20000)
    if not res then return { error = tostring(e) } end
    local r = res[client_id]
    if r == nil then return { error = 'no answer' } end
    if r.err then return { error = r.err.message or vim.inspect(r.err) } end
    return { result = r.result == nil and vim.NIL or r.result }
  end

  for _, q in ipairs(requests.requests) do
    local params = (q.needle and not q.save) and position(q.line, q.needle, q.nth) or {}
    local answer
    if q.method == 'textDocument/references' then
      params.context = { includeDeclaration = true }
      answer = request(q.method, params)
    elseif q.method == 'workspace/symbol' then
      answer = request(q.method, { query = q.query })
    elseif q.method == 'textDocument/documentSymbol' then
      answer = request(q.method, { textDocument = { uri = uri } })
    elseif q.then_method then
      -- Hierarchies: prepare at the position, then ask about the item.
      local prep = request(q.method, params)
      if prep.result and prep.result ~= vim.NIL and prep.result[1] then
        answer = request(q.then_method, { item = prep.result[1] })
      else
        answer = { error = 'prepare answered ' .. vim.inspect(prep) }
      end
    elseif q.save then
      -- Edit and save: with --ingest-on-save the answer reflects the save.
      vim.api.nvim_buf_set_lines(buf, q.line, q.line + 1, false, { q.save })
      vim.api.nvim_buf_set_lines(buf, -1, -1, false, { '', 'func Extra() int { return 2 }' })
      vim.cmd('write')
      answer = request(q.method, position(q.line, q.needle, q.nth))
    elseif q.edit then
      -- Append a line to the buffer (unsaved, so positions above stay)
      -- and ask again: hover must say the buffer is not what was ingested.
      vim.api.nvim_buf_set_lines(buf, -1, -1, false, { '// an unsaved edit' })
      answer = request(q.method, params)
      vim.api.nvim_buf_set_lines(buf, -2, -1, false, {})
    else
      answer = request(q.method, params)
    end
    results[q.name] = answer
  end
end)
if not ok then results.error = tostring(err) end
finish()
