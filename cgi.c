/* cgi.c: CGI/1.1 (RFC 3875). Placeholder until the real thing lands. */
#include <stddef.h>

#include "cgi.h"
#include "serve.h"
#include "path.h"

int
cgi_serve(struct exchange *ex, const struct path_res *res)
{
	(void)ex;
	(void)res;
	return 501;
}
