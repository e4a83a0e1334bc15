-- wrk script: cycle through the demo's pages with a browser's headers.
local requests = {}
local n = 0

init = function(args)
  local headers = {
    ["User-Agent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    ["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ["Accept-Language"] = "en-GB,en;q=0.9",
    ["Referer"] = "https://news.example.org/item?id=31337",
  }
  local paths = { "/", "/products/2", "/blog/privacy-by-default", "/search?q=walnut&utm_source=newsletter" }
  for _, path in ipairs(paths) do
    table.insert(requests, wrk.format("GET", path, headers))
  end
end

request = function()
  n = n % #requests + 1
  return requests[n]
end
