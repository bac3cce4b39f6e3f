-- pandoc Lua filter: a reference page of docs/ as a man page (`make man`, Makefile). The same
-- Markdown is read on the web as it is, so the page keeps its own title heading and paths:
-- - the first-level heading (the page's title) is dropped: the Makefile gives .TH its name and
--   section; every other heading moves up a level (## -> .SH, in capitals; ### -> .SS);
-- - `docs/X.md` (or `X.md`) becomes the man page it is built into, NAME(SECTION), or else the
--   file as installed, /usr/share/doc/kyoka/X.md;
-- - the text is ragged right and not hyphenated (below);
-- - a table becomes a tagged list (.TP): the first cell is the tag, each other cell a line
--   "Column: text" (a table wider than the terminal is what groff warns about, and a narrow man
--   column cannot hold a path).
local pages = {
  ["kyokad.md"] = "kyokad(8)",
  ["policyctl.md"] = "policyctl(8)",
  ["policy.md"] = "kyoka-policy(5)",
  ["request.md"] = "kyoka-request(5)",
  ["kyoka-notify.md"] = "kyoka-notify(1)",
}

local function upper(el)
  return pandoc.walk_block(el, {
    Str = function(s) return pandoc.Str(pandoc.text.upper(s.text)) end,
    Code = function(c) return pandoc.Code(pandoc.text.upper(c.text)) end,
  })
end

function Header(h)
  if h.level == 1 then
    return {}
  end
  h.level = h.level - 1
  if h.level == 1 then
    return upper(h)
  end
  return h
end

function Code(c)
  local name = c.text:match("^docs/([%w%-]+%.md)$") or c.text:match("^([%w%-]+%.md)$")
  if not name then
    return nil
  end
  if pages[name] then
    return pandoc.Strong(pandoc.Str(pages[name]))
  end
  return pandoc.Code("/usr/share/doc/kyoka/" .. name)
end

local function inlines_of(blocks)
  local out = pandoc.List()
  for i, b in ipairs(blocks) do
    if i > 1 then
      out:insert(pandoc.Space())
    end
    if b.content then
      out:extend(b.content)
    end
  end
  return out
end

function Table(t)
  local names = {}
  if t.head and t.head.rows[1] then
    for j, cell in ipairs(t.head.rows[1].cells) do
      names[j] = pandoc.utils.stringify(cell.contents)
    end
  end
  local items = pandoc.List()
  for _, body in ipairs(t.bodies) do
    for _, row in ipairs(body.body) do
      local term = inlines_of(row.cells[1].contents)
      local defs = pandoc.List()
      for j = 2, #row.cells do
        local text = inlines_of(row.cells[j].contents)
        if #text > 0 then
          local line = pandoc.List()
          if #row.cells > 2 and names[j] and names[j] ~= "" then
            line:insert(pandoc.Emph(pandoc.Str(names[j] .. ":")))
            line:insert(pandoc.Space())
          end
          line:extend(text)
          defs:insert(pandoc.Para(line))
        end
      end
      items:insert({ term, { defs } })
    end
  end
  return pandoc.DefinitionList(items)
end

-- Ragged right, no hyphenation: paths and options are long words, and justified text made of them
-- is what groff cannot adjust on a narrow terminal (its only warnings at 60 columns).
function Pandoc(doc)
  doc.blocks:insert(1, pandoc.RawBlock("man", ".ad l\n.nh"))
  return doc
end
