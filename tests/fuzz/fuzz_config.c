/* tests/fuzz/fuzz_config.c: libFuzzer target for config_load_buf, the
 * parser the privileged master runs on every start and SIGHUP.
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I.
 *        tests/fuzz/fuzz_config.c vhost.c -o fuzz_config
 * Run:   ./fuzz_config -max_total_time=60 tests/fuzz/corpus/config */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vhost.h"

/* What a successful load promises the rest of itkd. */
static void
check_vhost(const struct config *cfg, const struct vhost *vh)
{
	int i;

	if (vh->nnames < 1 || vh->nnames > VHOST_NAMES_MAX || vh->root == NULL ||
	    vh->root[0] != '/' || vh->nindex < 1 || vh->ngroups < 1 ||
	    vh->ngroups > VHOST_GROUPS_MAX)
		abort();
	if (vh->uid == 0 || vh->gid == 0 || vh->uid < cfg->uid_min ||
	    vh->uid > cfg->uid_max || vh->gid < cfg->gid_min ||
	    vh->gid > cfg->gid_max)
		abort();
	for (i = 0; i < vh->ngroups; i++)
		if (vh->groups[i] == 0 || vh->groups[i] < cfg->gid_min ||
		    vh->groups[i] > cfg->gid_max)
			abort();
	for (i = 0; i < vh->nnames; i++) {
		if (strpbrk(vh->names[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZ/ "))
			abort();
		/* every name finds its own vhost (names are unique) */
		if (vh->names[i][0] != '*' && vhost_match(cfg, vh->names[i]) != vh)
			abort();
	}
	for (i = 0; i < vh->nheader; i++)
		if (strpbrk(vh->header[i].value, "\r\n"))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char err[256];
	int i;

	if (size > CONF_FILE_MAX)
		return 0;
	if (config_load_buf(&cfg, "fuzz.conf", (const char *)data, size, err,
	    sizeof err) < 0) {
		if (strncmp(err, "fuzz.conf:", 10) != 0 || cfg.vhosts || cfg.path)
			abort();
		return 0;
	}
	if (cfg.nvhosts < 1 || cfg.uid == 0 || cfg.gid == 0 ||
	    cfg.uid_min == 0 || cfg.gid_min == 0 || cfg.tls_versions == 0)
		abort();
	for (i = 0; i < cfg.nvhosts; i++)
		check_vhost(&cfg, &cfg.vhosts[i]);
	if (vhost_find(&cfg, "") != &cfg.vhosts[0] ||
	    vhost_find(&cfg, "x.y.z.example.org") == NULL)
		abort();
	config_free(&cfg);
	return 0;
}
