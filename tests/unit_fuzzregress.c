/* tests/unit_fuzzregress.c: replay every seed and every regression input of
 * every fuzz target through tests/fuzz/bin/replay_NAME (tests/fuzz/replay.c
 * linked with tests/fuzz/fuzz_NAME.c, built by the normal compiler), so a
 * fixed finding stays fixed. Run from the top of the tree (tests/run.sh
 * does). The replay programs print the ok/FAIL lines themselves. */
#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIN "tests/fuzz/bin/replay_"

/* Each target must have seeds: an empty corpus would pass vacuously. */
static int
has_seeds(const char *dir)
{
	char pat[512];
	glob_t g;
	int n;

	snprintf(pat, sizeof(pat), "%s/*", dir);
	if (glob(pat, 0, NULL, &g) != 0)
		return 0;
	n = (int)g.gl_pathc;
	globfree(&g);
	return n > 0;
}

static int
run_target(const char *bin)
{
	const char *name = bin + strlen(BIN);
	char corpus[256], regress[256];
	pid_t pid;
	int status;

	snprintf(corpus, sizeof(corpus), "tests/fuzz/corpus/%s", name);
	snprintf(regress, sizeof(regress), "tests/fuzz/regress/%s", name);
	if (!has_seeds(corpus))
		printf("FAIL %s: no seed in %s\n", name, corpus);
	fflush(stdout);
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		execl(bin, bin, corpus, regress, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	/* 3: it printed a FAIL line per failed input; anything else is the
	 * replay program itself failing (not run, a sanitizer in main...). */
	if (WIFSIGNALED(status) || (WEXITSTATUS(status) != 0 &&
	    WEXITSTATUS(status) != 3)) {
		printf("FAIL %s: replay program %s %d\n", name,
		    WIFSIGNALED(status) ? "killed by signal" : "exited",
		    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		return -1;
	}
	return WEXITSTATUS(status) == 0 && has_seeds(corpus) ? 0 : -1;
}

int
main(void)
{
	glob_t g;
	size_t i;
	int bad = 0;

	if (glob(BIN "*", 0, NULL, &g) != 0) {
		printf("FAIL fuzz replay: no %s* program (make builds them)\n", BIN);
		return 1;
	}
	for (i = 0; i < g.gl_pathc; i++)
		bad += run_target(g.gl_pathv[i]) < 0;
	if (bad == 0)
		printf("ok fuzz replay: %zu targets\n", g.gl_pathc);
	globfree(&g);
	return bad != 0;
}
