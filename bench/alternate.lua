-- bench/alternate.lua: every request names the other vhost than the one
-- before it (per wrk thread), so keep-alive connections keep switching
-- identity. itkd closes a connection when its identity would change (with
-- `cross-identity close`, the default); wrk
-- counts that as a read error and reconnects.
local n = 0

request = function()
	n = n + 1
	local host = (n % 2 == 0) and "a.test" or "b.test"
	return wrk.format("GET", "/1k.html", { ["Host"] = host })
end
