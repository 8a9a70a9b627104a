/* tls.c: BearSSL keys, SNI policy, shared session cache, record I/O.
 * Placeholder: links, serves no TLS yet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"
#include "vhost.h"

struct tls_keys { int n; };
struct tls_conn { int fd; };

struct tls_keys *
tls_load(const struct config *cfg, char *err, size_t errlen)
{
	struct tls_keys *k;
	int i;

	for (i = 0; i < cfg->nlisten; i++) {
		if (cfg->listen[i].tls) {
			snprintf(err, errlen, "%s:%d: TLS not implemented yet",
			    cfg->path, cfg->listen[i].line);
			return NULL;
		}
	}
	if ((k = calloc(1, sizeof *k)) == NULL)
		snprintf(err, errlen, "%s: out of memory", cfg->path);
	return k;
}

void tls_free(struct tls_keys *k) { free(k); }
int tls_cache_init(int entries) { (void)entries; return 0; }

struct tls_conn *
tls_accept(struct tls_keys *k, const struct config *cfg, int fd, int64_t deadline)
{
	(void)k; (void)cfg; (void)fd; (void)deadline;
	return NULL;
}

const struct vhost *tls_vhost(const struct tls_conn *t) { (void)t; return NULL; }
const char *tls_server_name(const struct tls_conn *t) { (void)t; return ""; }
void tls_wipe(struct tls_keys *k) { (void)k; }

ssize_t
tls_read(struct tls_conn *t, void *buf, size_t len, int64_t deadline)
{
	(void)t; (void)buf; (void)len; (void)deadline;
	return -1;
}

int
tls_write(struct tls_conn *t, const void *buf, size_t len, int64_t deadline)
{
	(void)t; (void)buf; (void)len; (void)deadline;
	return -1;
}

int tls_flush(struct tls_conn *t, int64_t deadline) { (void)t; (void)deadline; return -1; }
size_t tls_pending(const struct tls_conn *t) { (void)t; return 0; }
void tls_close(struct tls_conn *t, int64_t deadline) { (void)t; (void)deadline; }
